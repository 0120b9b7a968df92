"""Fits the static table to approximate MiniLM's own sentence vectors (Model2Vec's "tokenlearn" idea).

    python -m router.features.train_approx --data ../shared/data/routing \
        --out router/features/artifacts/approx

The distilled table T0 (`models.static_distill`, PCA-rotated) gives a text the mean of its tokens'
rows. Here that mean is mapped back into MiniLM's space and corrected per token, so that the heads and
quality model trained on MiniLM's vectors can be applied unchanged:

    vector(text) = normalise(mean over tokens t of (T0 @ W + R)[t])

W (384 x 384) is a ridge least-squares fit of the mean T0 rows onto the served MiniLM vectors (the int8
ONNX graph, 128-token window); R holds per-token residual rows for the `top_n` most frequent training
tokens, a ridge fit of the remaining error on the bag-of-tokens matrix (rows = token counts / length).
Only training-side prompts (`split.is_held_out` false) are fitted; a further hash slice of them picks
the ridge strengths. Training-time only; the artifact (`approx.npz`: W, the token ids, R as int8 with
a per-row scale) is small and the table is rebuilt from T0 at load time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from router.features.split import is_held_out

__all__ = ["APPROX_FILE", "Approximation", "bag_of_tokens", "corpus", "fit_approximation", "main"]

_log = logging.getLogger(__name__)
APPROX_FILE: Final = "approx.npz"
# MiniLM's 128-token window holds [CLS] and [SEP]: the static mean sees the same 126 content tokens.
WINDOW_TOKENS: Final = 126
TOP_N: Final = 8000
ALPHAS: Final = (0.1, 0.3, 1.0)


class Approximation:
    """W, the residual token ids and rows; `table(t0)` is the full (vocabulary x 384) table."""

    def __init__(self, w: npt.NDArray[np.floating], ids: npt.NDArray[np.integer],
                 residuals: npt.NDArray[np.floating]) -> None:
        if w.ndim != 2 or residuals.shape != (len(ids), w.shape[1]):
            raise ValueError(f"W {w.shape}, {len(ids)} ids and residuals {residuals.shape} do not fit")
        self.w = np.asarray(w, dtype=np.float32)
        self.ids = np.asarray(ids, dtype=np.int64)
        self.residuals = np.asarray(residuals, dtype=np.float32)

    def table(self, t0: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        if t0.shape[1] != self.w.shape[0] or (len(self.ids) and int(self.ids.max()) >= len(t0)):
            raise ValueError(f"the base table {t0.shape} does not fit W {self.w.shape} and the token ids")
        table = np.asarray(t0, dtype=np.float32) @ self.w
        table[self.ids] += self.residuals
        return table

    def save(self, path: Path) -> None:
        """W as float16; R as int8 with one float32 scale per row (absmax / 127)."""
        scale = np.abs(self.residuals).max(axis=1) / 127.0
        scale[scale == 0.0] = 1.0
        quantised = np.round(self.residuals / scale[:, None]).astype(np.int8)
        np.savez_compressed(path, w=self.w.astype(np.float16), ids=self.ids.astype(np.int32),
                            residuals=quantised, scale=scale.astype(np.float32))

    @classmethod
    def load(cls, path: Path) -> Approximation:
        with np.load(path, allow_pickle=False) as data:
            residuals = data["residuals"].astype(np.float32) * data["scale"][:, None]
            return cls(data["w"].astype(np.float32), data["ids"], residuals)


def corpus(data: Path) -> list[str]:
    """Training-side prompts of the category, quality and anchor data, as the classifier cuts them,
    deduplicated, in a stable order."""
    from router.features.data import category_rows
    from router.features.text import classifier_text
    from router.quality.data import anchor_rows, outcome_rows

    texts = [r.text for r in category_rows(data)] + [r.text for r in outcome_rows(data)]
    texts += [r.text for r in anchor_rows(data)]
    return list(dict.fromkeys(classifier_text(t) for t in texts if not is_held_out(t)))


def bag_of_tokens(texts: Sequence[str], tokenizer_file: Path, vocabulary: int) -> Any:
    """Sparse (texts x vocabulary) matrix: each row the token counts / the number of tokens, the
    tokens cut to WINDOW_TOKENS as the static embedder cuts them."""
    import scipy.sparse as sp  # type: ignore[import-untyped]
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_length=WINDOW_TOKENS)
    tokenizer.no_padding()
    rows, cols, vals = [], [], []
    for i, text in enumerate(texts):
        ids = tokenizer.encode(text.strip(), add_special_tokens=False).ids
        rows += [i] * len(ids)
        cols += ids
        vals += [1.0 / len(ids)] * len(ids)
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(texts), vocabulary), dtype=np.float64)


def _ridge(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], alpha: float) -> npt.NDArray[np.float64]:
    gram = x.T @ x
    gram[np.diag_indices_from(gram)] += alpha * np.trace(gram) / len(gram)
    return np.asarray(np.linalg.solve(gram, x.T @ y))


def fit_approximation(x: Any, t0: npt.NDArray[np.floating], y: npt.NDArray[np.floating], *,
                      top_n: int, w_alpha: float, r_alpha: float) -> Approximation:
    """W then R by ridge least squares (each strength relative to the mean diagonal of its Gram
    matrix): W regresses Y on X T0; R regresses the rest, Y - X T0 W, on the `top_n` most frequent
    columns of X (tokens in at least one training prompt)."""
    base = np.asarray(x @ np.asarray(t0, dtype=np.float64))
    target = np.asarray(y, dtype=np.float64)
    w = _ridge(base, target, w_alpha)
    frequency = np.asarray((x > 0).sum(axis=0)).ravel()
    ids = np.argsort(-frequency, kind="stable")[:top_n]
    ids = np.sort(ids[frequency[ids] > 0])
    if not len(ids):
        return Approximation(w, ids, np.zeros((0, w.shape[1])))
    xs = x[:, ids]
    gram = np.asarray((xs.T @ xs).toarray())
    gram[np.diag_indices_from(gram)] += r_alpha * np.trace(gram) / len(gram)
    residuals = np.linalg.solve(gram, np.asarray(xs.T @ (target - base @ w)))
    return Approximation(w, ids, residuals)


def vectors(x: Any, table: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """Normalised mean rows: what the static embedder returns for the texts of `x`."""
    mean = np.asarray(x @ np.asarray(table, dtype=np.float64))
    norm = np.linalg.norm(mean, axis=1, keepdims=True)
    return np.asarray(mean / np.where(norm > 0, norm, 1.0), dtype=np.float32)


def _validation(texts: Sequence[str]) -> npt.NDArray[np.bool_]:
    """A 10 % hash slice of the training prompts (for the ridge strengths only)."""
    return np.array([int(hashlib.sha256(("approx\0" + t).encode()).hexdigest()[:8], 16) % 10 == 0
                     for t in texts])


def main(argv: Sequence[str] | None = None) -> int:
    from models.prepare import default_cache_root
    from models.static_distill import prepare_static_table
    from router.features.cache import training_cache
    from router.features.embedder import minilm_folder

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared routing data folder")
    parser.add_argument("--out", type=Path, required=True, help="artifacts folder to write")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/features_cache"), help="embedding cache")
    parser.add_argument("--top-n", type=int, default=TOP_N, help="tokens with their own residual rows")
    parser.add_argument("--r-alpha", type=float, action="append",
                        help=f"residual ridge strength(s) to try (default: {ALPHAS})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    texts = corpus(args.data)
    cache, embedder = training_cache(args.cache, "onnx", threads=1)
    y = cache.embed(texts).astype(np.float64)
    t0 = np.load(prepare_static_table(minilm_folder(), default_cache_root()), allow_pickle=False)
    x = bag_of_tokens(texts, minilm_folder() / "tokenizer.json", len(t0))
    val = _validation(texts)
    scores = {}
    for w_alpha in (1e-4,):
        for r_alpha in args.r_alpha or ALPHAS:
            fit = fit_approximation(x[~val], t0, y[~val], top_n=args.top_n, w_alpha=w_alpha, r_alpha=r_alpha)
            cos = np.sum(vectors(x[val], fit.table(t0)) * y[val], axis=1)
            scores[(w_alpha, r_alpha)] = float(cos.mean())
            _log.info("w_alpha %g r_alpha %g: validation cosine mean %.4f p5 %.4f", w_alpha, r_alpha,
                      cos.mean(), np.percentile(cos, 5))
    w_alpha, r_alpha = max(scores, key=lambda k: scores[k])
    fit = fit_approximation(x, t0, y, top_n=args.top_n, w_alpha=w_alpha, r_alpha=r_alpha)
    args.out.mkdir(parents=True, exist_ok=True)
    fit.save(args.out / APPROX_FILE)
    meta = {"embedder": embedder, "prompts": len(texts), "top_n": len(fit.ids),
            "window_tokens": WINDOW_TOKENS, "w_alpha": w_alpha, "r_alpha": r_alpha,
            "validation_cosine_mean": round(scores[(w_alpha, r_alpha)], 4)}
    (args.out / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
    _log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
