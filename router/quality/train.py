"""Trains the quality model and writes its artifacts, metrics and model card.

    python -m router.quality.train --data ../shared/data/routing

Training-time only (scipy). Deterministic: fixed initialisation, full-batch L-BFGS, no sampling.
Prompts whose text `router.features.split.is_held_out` are never trained on; every metric in
quality_model.json and MODEL_CARD.md is computed on them. Embeddings are cached under --cache.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from models.catalogue import load_catalogue
from models.categories import CATEGORIES
from models.quality import QualityTable
from router.features.cache import RUNTIMES, EmbeddingCache, training_cache
from router.features.embedder import DEFAULT_EMBEDDER_ID, DEFAULT_MAX_SEQ_LENGTH
from router.features.extract import CATEGORY_HEAD
from router.features.extract import DEFAULT_ARTIFACTS as FEATURE_ARTIFACTS
from router.features.heads import LinearHead
from router.features.split import is_held_out
from router.features.static_embedder import TOKEN_LOGITS_FILE
from router.features.text import classifier_text
from router.quality import report
from router.quality.card import write_model_card
from router.quality.data import anchor_rows, model_info, outcome_rows
from router.quality.fit import Anchors, FitResult, Outcomes, fit_irt, mixing_weights
from router.quality.model import DEFAULT_ARTIFACTS, METADATA_FILE, QualityModel, file_sha256
from router.quality.profile import TOOL_INDEX
from router.quality.scale import AbilityScale

__all__ = ["ALIASES", "main"]

_log = logging.getLogger(__name__)
# Catalogue ids that are exactly a model of the training data (same weights / same API snapshot).
ALIASES: Final = {
    "llama-3.1-8b-instruct": "Meta-Llama-3.1-8B-Instruct",
    "qwen2.5-7b-instruct": "Qwen2.5-7B-Instruct",
    "openai/gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "anthropic/claude-3.5-haiku": "claude-3-5-haiku-20241022",
}
FRONTIER_2024: Final = ("gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022")
EASY_P: Final = 0.9   # the weakest training model answers a trivial anchor prompt with at least this P
HARD_P: Final = 0.7   # a 2024 frontier model answers a hard anchor prompt with at most this P
ANCHOR_WEIGHT: Final = 1.0
MEASURED_MIN: Final = 150.0  # effective outcomes (category-weighted) for an ability to count as measured
STAGE1_ITERATIONS: Final = 1000
POOL_SIZE: Final = 256
POOL_MIN: Final = 200


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    head_path = args.category_head
    token_logits = head_path.with_name(TOKEN_LOGITS_FILE)  # the static head's supervised token table
    cache, embedder = training_cache(args.cache, args.embedder, threads=args.threads,
                                     token_logits=token_logits if token_logits.is_file() else None)
    head = LinearHead.load(head_path)
    ds = _dataset(args.data, cache, head)
    _log.info("%d prompts (%d held out), %d models, %d training outcomes",
              len(ds["rows"]), int(ds["held"].sum()), len(ds["names"]), len(ds["train"].label))
    fit1 = fit_irt(ds["x"], ds["w"], ds["train"], len(ds["names"]), max_iter=STAGE1_ITERATIONS)
    anchors = _anchors(args.data, cache, head, fit1, ds)
    _log.info("anchor targets: easy <= %.3f, hard >= %.3f", anchors.easy_target, anchors.hard_target)
    fit = fit_irt(ds["x"], ds["w"], ds["train"], len(ds["names"]), anchors=anchors, init=fit1)
    model = _model(fit, ds, head_path, anchors, embedder)
    metrics = report.evaluate(model, fit, ds, anchors, cache, head)
    model.metadata["metrics"] = metrics
    model.save(args.out)
    # NOTE: render from the saved JSON (sorted keys), so re-rendering it later gives the same card.
    write_model_card(json.loads((args.out / METADATA_FILE).read_text()), args.out / "MODEL_CARD.md")
    _log.info("wrote %s", args.out)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared routing data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_ARTIFACTS, help="artifacts folder to write")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "stellwerk" / "embeddings",
                        help="embedding cache folder")
    parser.add_argument("--category-head", type=Path, default=FEATURE_ARTIFACTS / CATEGORY_HEAD,
                        help="the features' category head the profiles use")
    parser.add_argument("--embedder", choices=RUNTIMES, default="onnx",
                        help="embed with the router's serving ONNX graph (default) or torch")
    parser.add_argument("--threads", type=int, default=2, help="torch threads while embedding")
    return parser


def category_probs(head: LinearHead, x: np.ndarray) -> np.ndarray:
    """The head's probabilities with columns in CATEGORIES order."""
    probs = head.probabilities(x.astype(np.float32))
    order = [head.classes.index(c) for c in CATEGORIES]
    return np.asarray(probs[:, order], dtype=np.float64)


def _dataset(data: Path, cache: EmbeddingCache, head: LinearHead) -> dict[str, Any]:
    rows = outcome_rows(data)
    x = cache.embed([classifier_text(r.text) for r in rows]).astype(np.float64)
    probs = category_probs(head, x)
    names = sorted({m for r in rows for m in r.scores})
    index = {n: j for j, n in enumerate(names)}
    held = np.array([is_held_out(r.text) for r in rows])
    p, m, y = [], [], []
    for i, r in enumerate(rows):
        for name, score in r.scores.items():
            p.append(i)
            m.append(index[name])
            y.append(float(score))
    prompt, model, label = np.array(p), np.array(m), np.array(y)
    train = ~held[prompt]
    return {"rows": rows, "x": x, "probs": probs, "w": mixing_weights(probs, TOOL_INDEX), "names": names,
            "held": held, "info": model_info(data),
            "train": Outcomes(prompt[train], model[train], label[train]),
            "test": Outcomes(prompt[~train], model[~train], label[~train])}


def _anchors(data: Path, cache: EmbeddingCache, head: LinearHead, fit: FitResult,
             ds: dict[str, Any]) -> Anchors:
    rows = anchor_rows(data)
    x = cache.embed([classifier_text(r.text) for r in rows]).astype(np.float64)
    kind = np.array([r.kind for r in rows])
    _, a = fit.prompt_params(ds["x"][~ds["held"]])
    a_med = float(np.median(a))
    mean = fit.ability.mean(axis=1)
    frontier = np.mean([mean[ds["names"].index(n)] for n in FRONTIER_2024])
    easy = float(mean.min()) - _logit(EASY_P) / a_med
    hard = float(frontier) - _logit(HARD_P) / a_med
    # NOTE: the hinge is in difficulty units; times a_med^2 it is in logits, whatever the scale.
    return Anchors(x[kind == "easy"], x[kind == "hard"], easy, hard, ANCHOR_WEIGHT * a_med ** 2)


def _model(fit: FitResult, ds: dict[str, Any], head_path: Path, anchors: Anchors,
           embedder: dict[str, Any]) -> QualityModel:
    train = ds["train"]
    effective = np.zeros_like(fit.ability)
    np.add.at(effective, train.model, ds["w"][train.prompt])
    measured = effective >= MEASURED_MIN
    d, a = fit.prompt_params(ds["x"][~ds["held"]])
    pools = _pools(d, a, ds["w"][~ds["held"]])
    base = QualityModel(fit.difficulty_w.astype(np.float32), fit.difficulty_b,
                        fit.discrimination_w.astype(np.float32), fit.discrimination_b,
                        AbilityScale(pools, np.zeros(len(CATEGORIES), dtype=np.float32)),
                        tuple(ds["names"]), fit.ability.astype(np.float32), measured)
    offsets, calibration = calibrate_offsets(base, QualityTable.load(), ALIASES)
    info = {n: ds["info"].get(n, {}) for n in ds["names"]}
    metadata = {
        "embedder": {"id": DEFAULT_EMBEDDER_ID, "max_seq_length": DEFAULT_MAX_SEQ_LENGTH,
                     "text": "router.features.text.classifier_text of the last user message", **embedder},
        "category_head_sha256": file_sha256(head_path),
        "aliases": ALIASES, "train_model_info": info,
        "anchors": {"easy_target": round(anchors.easy_target, 4),
                    "hard_target": round(anchors.hard_target, 4),
                    "n_easy": len(anchors.easy), "n_hard": len(anchors.hard), "easy_p": EASY_P,
                    "hard_p": HARD_P, "frontier_2024": list(FRONTIER_2024), "weight": ANCHOR_WEIGHT},
        "offsets": {c: round(float(o), 4) for c, o in zip(CATEGORIES, offsets, strict=True)},
        "offset_calibration": calibration, "loss": round(fit.loss, 5),
        "measured_min": MEASURED_MIN,
        "catalogue_models": [e.id for e in load_catalogue().models if e.task == "chat"],
    }
    return QualityModel(base.difficulty_w, base.difficulty_b, base.discrimination_w, base.discrimination_b,
                        AbilityScale(pools, offsets.astype(np.float32)), base.train_models,
                        base.train_ability, base.train_measured, metadata)


def _pools(d: np.ndarray, a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per category: POOL_SIZE (a, d) pairs spread over the difficulty range of its prompts."""
    pools = np.zeros((len(CATEGORIES), POOL_SIZE, 2), dtype=np.float32)
    for k in range(len(CATEGORIES)):
        select = w[:, k] >= 0.5
        if select.sum() < POOL_MIN:
            select = np.ones(len(d), dtype=bool)
        order = np.argsort(d[select], kind="stable")
        pick = order[np.linspace(0, len(order) - 1, POOL_SIZE).round().astype(int)]
        pools[k, :, 0] = a[select][pick]
        pools[k, :, 1] = d[select][pick]
    return pools


def calibrate_offsets(model: QualityModel, table: QualityTable, aliases: dict[str, str],
                      skip: str | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Per category: median over alias models of (measured ability - raw ability of its published
    score); categories without a measured alias get the median over all pairs. `skip`: leave one out."""
    per_cat: dict[int, list[float]] = {k: [] for k in range(len(CATEGORIES))}
    used: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    for catalogue_id, name in aliases.items():
        if name == skip or name not in model.train_models:
            continue
        row = model.train_models.index(name)
        for k, c in enumerate(CATEGORIES):
            score = table.score(catalogue_id, c)
            if model.train_measured[row, k] and score is not None:
                per_cat[k].append(float(model.train_ability[row, k]) - model.scale.raw_ability(k, score))
                used[c].append(catalogue_id)
    pooled = [v for vs in per_cat.values() for v in vs]
    fallback = float(np.median(pooled)) if pooled else 0.0
    offsets = np.array([float(np.median(per_cat[k])) if per_cat[k] else fallback
                        for k in range(len(CATEGORIES))])
    return offsets, {"anchors_per_category": used, "fallback_offset": round(fallback, 4)}


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


if __name__ == "__main__":
    raise SystemExit(main())
