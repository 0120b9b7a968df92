"""RouteLLM's routing metrics over a cost-quality curve (Ong et al., 2024, arXiv:2406.18665, section 5.1).

- PGR(x) = (quality(x) - weak) / (strong - weak): the share of the weak-to-strong quality gap
  recovered at strong-call share x.
- APGR: the area under PGR over strong-call share in [0, 1] (trapezoids over the curve's points);
  random routing scores 0.5. RouteLLM's evaluate.py computes (AUC - weak AUC) / (strong AUC - weak AUC)
  with np.trapz, which is the same number.
- CPT(p%): the smallest strong-call share at which PGR reaches p %, on the piecewise-linear curve.
- `share_for_quality_fraction(f)`: the smallest strong-call share at which the mean quality reaches
  f x the strong model's quality ("95 % of strong-model quality"). It is NOT CPT(95%): with weak 0.68
  and strong 0.81, 95 % of strong quality is 0.77, i.e. PGR 0.68.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmarks.eval.curve import Point

__all__ = ["apgr", "cpt", "pgr", "pgr_values", "share_for_quality_fraction", "share_to_reach"]


def pgr(quality: float, weak: float, strong: float) -> float | None:
    """Performance gap recovered; None when the strong model does not outscore the weak one."""
    gap = strong - weak
    return None if gap <= 0 else (quality - weak) / gap


def pgr_values(curve: Sequence[Point], weak: float, strong: float) -> list[float] | None:
    """PGR at every point of `curve`, or None when the gap is not positive."""
    if strong - weak <= 0:
        return None
    return [(p.quality - weak) / (strong - weak) for p in curve]


def apgr(curve: Sequence[Point], weak: float, strong: float) -> float | None:
    """Area under PGR over strong-call share (the curve must span shares 0 to 1)."""
    values = pgr_values(curve, weak, strong)
    if values is None:
        return None
    shares = [p.strong_share for p in curve]
    if shares[0] != 0.0 or shares[-1] != 1.0:
        raise ValueError("APGR needs a curve from 0 % to 100 % strong calls")
    return float(np.trapezoid(values, shares))


def cpt(curve: Sequence[Point], weak: float, strong: float, percent: float) -> float | None:
    """CPT(percent %): the smallest strong-call share whose PGR reaches percent / 100."""
    values = pgr_values(curve, weak, strong)
    if values is None:
        return None
    return share_to_reach([p.strong_share for p in curve], values, percent / 100.0)


def share_for_quality_fraction(curve: Sequence[Point], strong: float, fraction: float) -> float | None:
    """The smallest strong-call share whose mean quality reaches `fraction` x the strong quality."""
    return share_to_reach([p.strong_share for p in curve], [p.quality for p in curve], fraction * strong)


def share_to_reach(shares: Sequence[float], values: Sequence[float], target: float) -> float | None:
    """The first x where the piecewise-linear curve (shares, values) reaches `target`; None if never.
    Between two points it interpolates linearly: routing part of one threshold's rows at random."""
    tolerance = 1e-12
    for i, value in enumerate(values):
        if value >= target - tolerance:
            if i == 0:
                return float(shares[0])
            x0, y0, x1 = shares[i - 1], values[i - 1], shares[i]
            return float(x0 + (target - y0) * (x1 - x0) / (value - y0))
    return None
