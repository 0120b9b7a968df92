"""One evaluation slice end to end: curves, RouteLLM metrics, baselines and costs, as a JSON-ready dict.

The dict is the single source of truth: the Markdown report and the plot are drawn from it, so the
numbers in them are the numbers in the JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.eval.bootstrap import bootstrap_ci
from benchmarks.eval.curve import (
    Outcomes,
    Point,
    expected_random,
    oracle_curve,
    routellm_protocol_curve,
    router_curve,
    simulated_random,
)
from benchmarks.eval.dataset import Row
from benchmarks.eval.metrics import apgr, cpt, pgr, share_for_quality_fraction

__all__ = ["Costs", "SliceSettings", "evaluate_slice", "metrics_for"]

QUALITY_FRACTION = 0.95
_MAX_BASELINE_POINTS = 201


@dataclass(frozen=True)
class Costs:
    """Cost of one call to each model, in any unit the operator chooses (e.g. USD per request)."""

    strong: float
    weak: float

    def at(self, share: float | None) -> float | None:
        return None if share is None else share * self.strong + (1.0 - share) * self.weak


@dataclass(frozen=True)
class SliceSettings:
    """What every slice shares: the model pair, the operating threshold, costs, random draws and the
    number of bootstrap resamples (0: no confidence intervals)."""

    strong: str
    weak: str
    threshold: float
    costs: Costs | None = None
    random_sims: int = 0
    seed: int = 0
    bootstrap: int = 0


def evaluate_slice(name: str, rows: Sequence[Row], p_weak_ok: np.ndarray[Any, np.dtype[np.float64]],
                   settings: SliceSettings) -> dict[str, Any]:
    """Curves and metrics for `rows` (with their p_weak_ok, in the same order)."""
    outcomes = Outcomes(np.array([r.scores[settings.strong] for r in rows], dtype=np.float64),
                        np.array([r.scores[settings.weak] for r in rows], dtype=np.float64))
    weak, strong = outcomes.weak_quality, outcomes.strong_quality
    curves = {"router": router_curve(p_weak_ok, outcomes),
              "router_routellm_protocol": routellm_protocol_curve(p_weak_ok, outcomes),
              "random_expected": expected_random(outcomes, [0.0, 1.0]),
              "oracle": oracle_curve(outcomes)}
    if settings.random_sims > 0:
        curves["random_simulated"] = simulated_random(outcomes, settings.random_sims, settings.seed)
    result: dict[str, Any] = {
        "name": name, "n": outcomes.n, "strong_quality": strong, "weak_quality": weak,
        "gap_positive": strong > weak,
        "operating_point": _operating_point(p_weak_ok, outcomes, settings.threshold),
        "metrics": {key: metrics_for(curve, weak, strong) for key, curve in curves.items()},
        "curves": {key: _serialise(curve) for key, curve in curves.items()},
    }
    if settings.bootstrap > 0:
        result["bootstrap"] = bootstrap_ci(p_weak_ok, outcomes, settings.bootstrap, settings.seed)
    if settings.costs is not None:
        result["costs"] = _costs(settings.costs, result["metrics"]["router"], result["operating_point"])
    return result


def metrics_for(curve: Sequence[Point], weak: float, strong: float) -> dict[str, float | None]:
    """APGR, CPT(50%), CPT(80%) and the share for 95 % of strong quality of one curve."""
    return {"apgr": apgr(curve, weak, strong),
            "cpt_50": cpt(curve, weak, strong, 50.0),
            "cpt_80": cpt(curve, weak, strong, 80.0),
            "share_for_95pct_strong_quality": share_for_quality_fraction(curve, strong, QUALITY_FRACTION)}


def _operating_point(p_weak_ok: np.ndarray[Any, np.dtype[np.float64]], outcomes: Outcomes,
                     threshold: float) -> dict[str, float | None]:
    strong = p_weak_ok < threshold
    quality = float(np.where(strong, outcomes.strong, outcomes.weak).mean())
    return {"threshold": threshold, "strong_share": float(strong.mean()), "quality": quality,
            "pgr": pgr(quality, outcomes.weak_quality, outcomes.strong_quality)}


def _costs(costs: Costs, router: dict[str, float | None], point: dict[str, float | None]) -> dict[str, Any]:
    """Cost per prompt at the router's key shares, and the saving against always-strong."""
    shares = {"always_strong": 1.0, "always_weak": 0.0, "router_at_cpt_50": router["cpt_50"],
              "router_at_cpt_80": router["cpt_80"],
              "router_at_95pct_strong_quality": router["share_for_95pct_strong_quality"],
              "router_at_threshold": point["strong_share"]}
    per_prompt = {key: costs.at(share) for key, share in shares.items()}
    saving = {key: None if value is None or costs.strong <= 0 else 1.0 - value / costs.strong
              for key, value in per_prompt.items()}
    return {"per_call": {"strong": costs.strong, "weak": costs.weak}, "per_prompt": per_prompt,
            "saving_vs_always_strong": saving}


def _serialise(curve: Sequence[Point]) -> list[list[float | None]]:
    """[share, quality, threshold] per point; long baseline curves are thinned to ~200 points."""
    points = list(curve)
    if len(points) > _MAX_BASELINE_POINTS and points[0].threshold is None:
        step = (len(points) - 1) / (_MAX_BASELINE_POINTS - 1)
        points = [points[round(i * step)] for i in range(_MAX_BASELINE_POINTS)]
    return [[p.strong_share, p.quality, p.threshold] for p in points]
