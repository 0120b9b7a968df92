"""Cost-quality curves: the router's threshold sweep and the baselines it is judged against.

Every curve is a list of `Point`s from 0 % to 100 % strong calls. The router's curve has one point per
distinct p_weak_ok value t (strong when p_weak_ok < t) plus the all-strong end, so it is exact, with no
binning. Random routing's expected quality at share x is the straight line weak + x * (strong - weak);
`simulated_random` also draws it with a seed. The oracle, which knows each row's outcome, sends the
rows with the largest strong-minus-weak gain first: the upper bound of any router.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "Outcomes",
    "Point",
    "expected_random",
    "oracle_curve",
    "routellm_protocol_curve",
    "router_curve",
    "simulated_random",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Point:
    """One operating point: the share of prompts sent to the strong model and the mean quality.
    `threshold` is the p_weak_ok threshold that produces it (None for baselines)."""

    strong_share: float
    quality: float
    threshold: float | None = None


@dataclass(frozen=True)
class Outcomes:
    """Per-row scores of the strong and the weak model (equal-length arrays in [0, 1])."""

    strong: FloatArray
    weak: FloatArray

    def __post_init__(self) -> None:
        if self.strong.shape != self.weak.shape or self.strong.ndim != 1 or self.strong.size == 0:
            raise ValueError("strong and weak scores must be non-empty 1-d arrays of equal length")

    @property
    def n(self) -> int:
        return int(self.strong.size)

    @property
    def strong_quality(self) -> float:
        return float(self.strong.mean())

    @property
    def weak_quality(self) -> float:
        return float(self.weak.mean())


def router_curve(p_weak_ok: FloatArray, outcomes: Outcomes) -> list[Point]:
    """Threshold routing on `p_weak_ok` swept over every distinct value (exact; ties move together)."""
    if p_weak_ok.shape != outcomes.strong.shape:
        raise ValueError("one p_weak_ok per row is needed")
    order = np.argsort(p_weak_ok, kind="stable")
    ranked = p_weak_ok[order]
    gained = _cumulative_gain(outcomes, order)
    points = []
    for t in np.unique(ranked):
        k = int(np.searchsorted(ranked, t, side="left"))  # rows with p_weak_ok < t go strong
        points.append(_point(k, gained, outcomes, float(t)))
    points.append(_point(outcomes.n, gained, outcomes, math.nextafter(float(ranked[-1]), math.inf)))
    return points


def routellm_protocol_curve(p_weak_ok: FloatArray, outcomes: Outcomes, bins: int = 10) -> list[Point]:
    """The same router scored as RouteLLM's evaluate.py does: thresholds at the quantiles of the strong
    win rate (here 1 - p_weak_ok) cut into `bins` equal bins, strong when win rate >= threshold
    (> for the last). Gives about bins + 1 points; used only to compare like with like."""
    win = 1.0 - p_weak_ok
    edges = np.unique(np.quantile(win, np.linspace(0.0, 1.0, bins + 1)))
    points = []
    for i, edge in enumerate(edges):
        strong = win > edge if i == len(edges) - 1 else win >= edge
        quality = float(np.where(strong, outcomes.strong, outcomes.weak).mean())
        points.append(Point(float(strong.mean()), quality, float(1.0 - edge)))
    return sorted(points, key=lambda p: p.strong_share)


def oracle_curve(outcomes: Outcomes) -> list[Point]:
    """Best possible routing at each share: rows sorted by strong-minus-weak gain, largest first."""
    order = np.argsort(-(outcomes.strong - outcomes.weak), kind="stable")
    gained = _cumulative_gain(outcomes, order)
    return [_point(k, gained, outcomes, None) for k in range(outcomes.n + 1)]


def expected_random(outcomes: Outcomes, shares: list[float]) -> list[Point]:
    """Random routing's expected quality at each share (linear between always-weak and always-strong)."""
    weak, strong = outcomes.weak_quality, outcomes.strong_quality
    return [Point(x, weak + x * (strong - weak)) for x in shares]


def simulated_random(outcomes: Outcomes, sims: int, seed: int) -> list[Point]:
    """Random routing drawn `sims` times with `seed`: per draw a random order of the rows, the first k
    going strong, for every k; the mean quality over draws at each k."""
    rng = np.random.default_rng(seed)
    total = np.zeros(outcomes.n + 1)
    for _ in range(sims):
        total += _cumulative_gain(outcomes, rng.permutation(outcomes.n))
    mean_gain = total / sims
    return [_point(k, mean_gain, outcomes, None) for k in range(outcomes.n + 1)]


def _cumulative_gain(outcomes: Outcomes, order: npt.NDArray[np.intp]) -> FloatArray:
    """gained[k] = total gain over the weak model when the first k rows of `order` go strong."""
    gains = (outcomes.strong - outcomes.weak)[order]
    return np.concatenate(([0.0], np.cumsum(gains)))


def _point(k: int, gained: FloatArray, outcomes: Outcomes, threshold: float | None) -> Point:
    n = outcomes.n
    return Point(k / n, float((outcomes.weak.sum() + gained[k]) / n), threshold)
