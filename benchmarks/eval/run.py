"""`run_eval`: from an evaluation request to the result dict (rows -> p_weak_ok -> slices).

The scorer is passed in (dependency injection), so tests run the whole pipeline with scripted
p_weak_ok values and only the CLI loads the real embedder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.eval.dataset import EvalDataError, Row, load_rows, pick_pair
from benchmarks.eval.evaluate import Costs, SliceSettings, evaluate_slice
from benchmarks.eval.published import PUBLISHED
from benchmarks.eval.routellm import STRONG, WEAK, routellm_rows
from benchmarks.eval.scorer import WeakOkScorer

__all__ = ["ALL_SLICE", "EvalRequest", "run_eval"]

ALL_SLICE = "all"


@dataclass(frozen=True)
class EvalRequest:
    """What to evaluate: a JSONL file or the RouteLLM labels folder, the pair, threshold and options."""

    command: str
    data: Path | None = None
    routellm_dir: Path | None = None
    benchmarks: tuple[str, ...] = ("mmlu", "gsm8k")
    strong: str | None = None
    weak: str | None = None
    threshold: float = 0.65
    threshold_source: str = "given"
    costs: Costs | None = None
    random_sims: int = 0
    seed: int = 0
    bootstrap: int = 0
    scorer_description: str = "scripted p_weak_ok"
    extra: dict[str, Any] = field(default_factory=dict)


def run_eval(request: EvalRequest, scorer: WeakOkScorer) -> dict[str, Any]:
    """Loads the rows, scores them once, and evaluates the whole set and each category."""
    rows, dataset = _rows(request)
    strong, weak = pick_pair(rows, request.strong, request.weak)
    p_weak_ok = np.asarray(scorer.p_weak_ok([r.prompt for r in rows]), dtype=np.float64)
    if p_weak_ok.shape != (len(rows),) or not np.all(np.isfinite(p_weak_ok)):
        raise EvalDataError("the scorer returned no finite p_weak_ok for some rows (no quality head?)")
    settings = SliceSettings(strong, weak, request.threshold, request.costs, request.random_sims,
                             request.seed, request.bootstrap)
    slices = [evaluate_slice(name, [rows[i] for i in idx], p_weak_ok[idx], settings)
              for name, idx in _slices(rows)]
    return {
        "command": request.command, "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "dataset": dataset, "strong": strong, "weak": weak,
        "scorer": {"description": request.scorer_description, **request.extra},
        "settings": {"threshold": request.threshold, "threshold_source": request.threshold_source,
                     "random_sims": request.random_sims, "seed": request.seed,
                     "bootstrap": request.bootstrap,
                     "costs": None if request.costs is None else asdict(request.costs)},
        "slices": slices,
        "published": [asdict(f) for f in PUBLISHED] if request.routellm_dir is not None else [],
    }


def _rows(request: EvalRequest) -> tuple[list[Row], dict[str, Any]]:
    if (request.data is None) == (request.routellm_dir is None):
        raise EvalDataError("give exactly one of --data FILE or --routellm-dir DIR")
    if request.data is not None:
        rows = load_rows(request.data)
        return rows, {"source": str(request.data), "rows": len(rows)}
    from router.features.split import is_held_out

    assert request.routellm_dir is not None
    if (request.strong, request.weak) not in ((None, None), (STRONG, WEAK)):
        raise EvalDataError(f"--routellm-dir rows score {STRONG!r} (strong) and {WEAK!r} (weak) only")
    rows, counts = routellm_rows(request.routellm_dir, request.benchmarks, is_held_out)
    if not rows:
        raise EvalDataError(f"{request.routellm_dir}: no held-out rows left to evaluate")
    return rows, {"source": f"RouteLLM strong/weak labels in {request.routellm_dir} "
                            f"({', '.join(request.benchmarks)})",
                  "rows": len(rows), "counts": [c.as_dict() for c in counts]}


def _slices(rows: Sequence[Row]) -> list[tuple[str, np.ndarray[Any, np.dtype[np.intp]]]]:
    """The whole set, then each category (when there are at least two), as row index arrays."""
    slices = [(ALL_SLICE, np.arange(len(rows)))]
    categories = sorted({r.category for r in rows if r.category is not None})
    if len(categories) >= 2:
        for category in categories:
            slices.append((category, np.array([i for i, r in enumerate(rows) if r.category == category])))
    return slices
