"""What one replica can carry within the SLO, and predictions between measured load points.

Capacity at the SLO = the highest-throughput measured point whose TTFT p95 and TPOT meet the SLO (no
extrapolation past the measured range: a replica is never planned beyond what was observed). Its output
tokens/s convert to requests/s for another length mix through the profile's work model: a request costs
`output + input_token_weight x input` output-token equivalents of replica time.

`predict` interpolates linearly in concurrency between measured points (below the first point the
throughput scales down linearly to zero and latencies stay at the first point's; above the last point
everything stays at the last point's, i.e. saturated).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from benchmarks.planner.profiles import PerformanceProfile, ProfilePoint
from benchmarks.planner.traffic import Slo

__all__ = ["Prediction", "meets_slo", "predict", "replica_capacity_rps", "slo_point"]


@dataclass(frozen=True)
class Prediction:
    """Predicted steady state of one replica at a concurrency, for the profile's own workload."""

    concurrency: float
    output_tokens_per_s: float
    ttft_p50_ms: float
    ttft_p95_ms: float
    tpot_p50_ms: float
    tpot_p95_ms: float
    extrapolated: bool  # outside the measured concurrency range


def meets_slo(point: ProfilePoint, slo: Slo) -> bool:
    """Whether a measured point meets every objective set in `slo`."""
    checks = ((slo.ttft_p95_ms, point.ttft_ms.at(95)), (slo.tpot_p50_ms, point.tpot_ms.p50),
              (slo.tpot_p95_ms, point.tpot_ms.at(95)))
    return all(limit is None or value <= limit for limit, value in checks)


def slo_point(profile: PerformanceProfile, slo: Slo) -> ProfilePoint | None:
    """The highest-throughput point meeting the SLO; None when no measured point does."""
    good = [p for p in profile.points if meets_slo(p, slo)]
    return max(good, key=lambda p: p.output_tokens_per_s, default=None)


def replica_capacity_rps(profile: PerformanceProfile, slo: Slo, input_tokens: float,
                         output_tokens: float) -> float:
    """Requests/s of the given mean shape one replica serves within the SLO (0 if it cannot)."""
    point = slo_point(profile, slo)
    if point is None:
        return 0.0
    w = profile.workload
    work_per_s = point.output_tokens_per_s / w.output_tokens * profile.work_per_request(
        w.input_tokens, w.output_tokens)
    return work_per_s / profile.work_per_request(input_tokens, output_tokens)


def predict(profile: PerformanceProfile, concurrency: float) -> Prediction:
    """Piecewise-linear prediction at `concurrency` (see the module docstring)."""
    pts = profile.points
    first, last = pts[0], pts[-1]
    if concurrency <= first.concurrency:
        scale = concurrency / first.concurrency
        return _at(first, concurrency, first.output_tokens_per_s * scale, concurrency < first.concurrency)
    if concurrency >= last.concurrency:
        return _at(last, concurrency, last.output_tokens_per_s, concurrency > last.concurrency)
    for lo, hi in itertools.pairwise(pts):
        if lo.concurrency <= concurrency <= hi.concurrency:
            t = (concurrency - lo.concurrency) / (hi.concurrency - lo.concurrency)
            return Prediction(
                concurrency, _lerp(lo.output_tokens_per_s, hi.output_tokens_per_s, t),
                _lerp(lo.ttft_ms.p50, hi.ttft_ms.p50, t), _lerp(lo.ttft_ms.at(95), hi.ttft_ms.at(95), t),
                _lerp(lo.tpot_ms.p50, hi.tpot_ms.p50, t), _lerp(lo.tpot_ms.at(95), hi.tpot_ms.at(95), t),
                False)
    raise AssertionError("unreachable: points are sorted")


def _at(p: ProfilePoint, concurrency: float, throughput: float, extrapolated: bool) -> Prediction:
    return Prediction(concurrency, throughput, p.ttft_ms.p50, p.ttft_ms.at(95), p.tpot_ms.p50,
                      p.tpot_ms.at(95), extrapolated)


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t
