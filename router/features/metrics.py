"""Held-out metrics for the two heads, in plain numpy (so the eval can reuse them without sklearn)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["category_report", "quality_report", "roc_auc"]

_BINS = 10


def category_report(truth: npt.NDArray[Any], predicted: npt.NDArray[Any], sources: npt.NDArray[Any],
                    classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and recall over the classes present in `truth`, the confusion matrix
    (rows: truth, columns: prediction, in `classes` order) and accuracy per source."""
    present = [c for c in classes if np.any(truth == c)]
    recall = {c: float(np.mean(predicted[truth == c] == c)) for c in present}
    f1 = [_f1(truth, predicted, c) for c in present]
    matrix = [[int(np.sum((truth == t) & (predicted == p))) for p in classes] for t in classes]
    return {
        "n_held_out": len(truth),
        "accuracy": _r(np.mean(truth == predicted)),
        "macro_f1": _r(np.mean(f1)),
        "per_class": {c: {"n": int(np.sum(truth == c)), "recall": _r(recall[c]), "f1": _r(f)}
                      for c, f in zip(present, f1, strict=True)},
        "per_source_accuracy": {str(s): _r(np.mean(truth[sources == s] == predicted[sources == s]))
                                for s in np.unique(sources)},
        "confusion_matrix": {"labels": list(classes), "rows_truth_cols_predicted": matrix},
    }


def quality_report(truth: npt.NDArray[np.bool_], scores: npt.NDArray[np.float32],
                   sources: npt.NDArray[Any]) -> dict[str, Any]:
    """ROC AUC overall and per source, base rate vs mean prediction, and a 10-bin reliability table."""
    edges = np.linspace(0.0, 1.0, _BINS + 1)
    bins = np.clip(np.digitize(scores, edges) - 1, 0, _BINS - 1)
    table = [{"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": int(np.sum(bins == b)),
              "mean_predicted": _r(np.mean(scores[bins == b])), "observed": _r(np.mean(truth[bins == b]))}
             for b in range(_BINS) if np.any(bins == b)]
    gaps = [np.sum(bins == b) * abs(np.mean(scores[bins == b]) - np.mean(truth[bins == b]))
            for b in range(_BINS) if np.any(bins == b)]
    ece = float(np.sum(gaps)) / max(len(truth), 1)
    return {
        "n_held_out": len(truth),
        "auc": _r(roc_auc(truth, scores)),
        "per_source_auc": {str(s): _r(roc_auc(truth[sources == s], scores[sources == s]))
                           for s in np.unique(sources)},
        "base_rate": _r(np.mean(truth)),
        "mean_predicted": _r(np.mean(scores)),
        "expected_calibration_error": _r(ece),
        "reliability": table,
    }


def roc_auc(truth: npt.NDArray[np.bool_], scores: npt.NDArray[np.float32]) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties averaged."""
    positives = int(np.sum(truth))
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # average rank of each tie group
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _f1(truth: npt.NDArray[Any], predicted: npt.NDArray[Any], label: str) -> float:
    tp = float(np.sum((truth == label) & (predicted == label)))
    denominator = float(np.sum(truth == label) + np.sum(predicted == label))
    return 2 * tp / denominator if denominator else 0.0


def _r(value: Any) -> float:
    return round(float(value), 4)
