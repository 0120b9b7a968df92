"""The static table fitted to approximate MiniLM's vectors (router.features.train_approx): the fit, its
stored form, and that the fitted features are the ones the static embedder serves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp  # type: ignore[import-untyped]

from router.features.embedder import minilm_folder
from router.features.split import is_held_out
from router.features.static_embedder import StaticEmbedder
from router.features.text import classifier_text
from router.features.train_approx import (
    WINDOW_TOKENS,
    Approximation,
    bag_of_tokens,
    corpus,
    fit_approximation,
    vectors,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "routing"


def _synthetic(seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Texts as mean one-hot rows over 60 tokens; targets an exact table T0 @ M plus token residuals."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(3000):
        ids = rng.integers(0, 60, size=rng.integers(2, 9))
        row = np.zeros(60)
        np.add.at(row, ids, 1.0 / len(ids))
        rows.append(row)
    x = sp.csr_matrix(np.array(rows))
    t0 = rng.normal(size=(60, 6))
    truth = t0 @ rng.normal(size=(6, 6)) + rng.normal(size=(60, 6))
    return x, t0, np.asarray(x @ truth)


def test_fit_recovers_a_table_the_targets_came_from() -> None:
    x, t0, y = _synthetic()
    full = fit_approximation(x, t0, y, top_n=60, w_alpha=1e-8, r_alpha=1e-8)
    mapped_only = fit_approximation(x, t0, y, top_n=0, w_alpha=1e-8, r_alpha=1e-8)
    normalised = y / np.linalg.norm(y, axis=1, keepdims=True)
    assert np.sum(vectors(x, full.table(t0)) * normalised, axis=1).min() > 0.999
    assert np.sum(vectors(x, mapped_only.table(t0)) * normalised, axis=1).mean() < 0.95
    assert len(mapped_only.ids) == 0


def test_residuals_only_for_the_most_frequent_tokens() -> None:
    x, t0, y = _synthetic(1)
    fit = fit_approximation(x[:, :30].tocsr(), t0[:30], y, top_n=10, w_alpha=1e-4, r_alpha=0.1)
    counts = np.asarray((x[:, :30] > 0).sum(axis=0)).ravel()
    assert set(fit.ids.tolist()) == set(np.argsort(-counts, kind="stable")[:10].tolist())
    table = fit.table(t0[:30])
    others = np.setdiff1d(np.arange(30), fit.ids)
    assert np.allclose(table[others], t0[others] @ fit.w, atol=1e-5)


def test_saved_approximation_round_trips_within_int8_precision(tmp_path: Path) -> None:
    x, t0, y = _synthetic(2)
    fit = fit_approximation(x, t0, y, top_n=40, w_alpha=1e-4, r_alpha=0.1)
    fit.save(tmp_path / "approx.npz")
    loaded = Approximation.load(tmp_path / "approx.npz")
    assert np.array_equal(loaded.ids, fit.ids)
    step = np.abs(fit.residuals).max(axis=1, keepdims=True) / 127.0
    assert np.all(np.abs(loaded.residuals - fit.residuals) <= step / 2 + 1e-6)
    assert np.allclose(loaded.w, fit.w, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="does not fit"):
        loaded.table(t0[:, :3])


def test_fitted_features_are_what_the_static_embedder_serves() -> None:
    tokenizer = minilm_folder() / "tokenizer.json"
    rng = np.random.default_rng(3)
    table = rng.normal(size=(30522, 4)).astype(np.float32)
    long = "alpha beta gamma delta " * 100  # beyond the window: both cut it to the same 126 tokens
    texts = ["Merge two sorted lists in Python.", "hi there", long]
    x = bag_of_tokens(texts, tokenizer, 30522)
    assert np.allclose(np.asarray(x.sum(axis=1)).ravel(), 1.0)
    assert x[2].nnz == 4 and x[2].sum() == pytest.approx(1.0)
    served = StaticEmbedder(table, tokenizer, max_tokens=WINDOW_TOKENS).embed(texts)
    assert np.allclose(vectors(x, table), served, atol=1e-5)


@pytest.mark.skipif(not DATA.is_dir(), reason="the shared routing data is not here")
def test_corpus_holds_no_held_out_prompt() -> None:
    from router.features.data import category_rows

    texts = set(corpus(DATA))
    held = {classifier_text(r.text) for r in category_rows(DATA) if is_held_out(r.text)}
    trained = {classifier_text(r.text) for r in category_rows(DATA) if not is_held_out(r.text)}
    assert held and texts and not (texts & (held - trained))


@pytest.mark.skipif(not DATA.is_dir(), reason="the shared routing data is not here")
def test_decision_benchmark_needs_the_approximation_file_for_approx() -> None:
    from benchmarks.decision.__main__ import main

    with pytest.raises(SystemExit, match="needs --approx"):
        main(["--embedders", "approx", "--duration", "1", "--sample", "10"])
