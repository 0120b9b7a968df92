"""Summaries of one load step, what "sustains a rate" means, and the latency a gateway adds.

Definitions (also written into the report):
- A step's **measured requests** are those due after the warm-up (connections opened, caches filled).
- **achieved rate** = valid answers among the measured requests / (time from the first measured request's
  due time to the last one's end). A server that keeps up ends right after the last request is due, so
  the achieved rate is the offered one; one that falls behind drains late and scores lower.
- A target **sustains** a rate when achieved ≥ 95 % of offered, errors (dropped included) ≤ 0.1 % and the
  p99 latency stays below a bound (default 50 ms: the fake answers in well under a millisecond, so a
  p99 beyond that is queueing, not work).
- **added latency** at a rate = gateway percentile - direct-to-fake percentile, measured in the same run
  (a difference of percentiles: requests are not paired across targets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.overhead.schedule import Outcome

__all__ = ["StepSummary", "SustainCriteria", "added_latency", "max_sustained", "percentile", "summarize"]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between ranks (numpy's default)."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class SustainCriteria:
    min_ratio: float = 0.95
    max_error_rate: float = 0.001
    p99_bound_ms: float = 50.0


@dataclass(frozen=True)
class StepSummary:
    """One (target, mode, rate) step. Latencies in milliseconds."""

    target: str
    mode: str
    offered_rate: float
    measured: int
    ok: int
    errors: int
    dropped: int
    achieved_rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    ttfb_p50_ms: float
    ttfb_p99_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    sample_errors: tuple[str, ...] = ()

    @property
    def error_rate(self) -> float:
        return (self.errors + self.dropped) / self.measured if self.measured else 1.0

    def sustains(self, criteria: SustainCriteria) -> bool:
        return (self.measured > 0 and self.achieved_rate >= criteria.min_ratio * self.offered_rate
                and self.error_rate <= criteria.max_error_rate and self.p99_ms <= criteria.p99_bound_ms)

    def to_json(self, criteria: SustainCriteria) -> dict[str, Any]:
        return {**asdict(self), "sample_errors": list(self.sample_errors),
                "error_rate": self.error_rate, "sustained": self.sustains(criteria)}


def summarize(target: str, mode: str, rate: float, outcomes: Sequence[Outcome],
              warmup_s: float) -> StepSummary:
    measured = [o for o in outcomes if o.due >= warmup_s]
    good = [o for o in measured if o.ok]
    lat = [o.latency * 1000 for o in good]
    ttfb = [o.ttfb * 1000 for o in good]
    lags = [o.lag * 1000 for o in measured if not o.dropped]
    span = max((o.done for o in good), default=0.0) - min((o.due for o in measured), default=0.0)
    errors = [o.error for o in measured if o.error is not None and not o.dropped]
    return StepSummary(
        target=target, mode=mode, offered_rate=rate, measured=len(measured), ok=len(good),
        errors=len(errors), dropped=sum(o.dropped for o in measured),
        achieved_rate=len(good) / span if span > 0 else 0.0,
        p50_ms=percentile(lat, 50), p90_ms=percentile(lat, 90), p99_ms=percentile(lat, 99),
        max_ms=max(lat, default=math.nan),
        ttfb_p50_ms=percentile(ttfb, 50), ttfb_p99_ms=percentile(ttfb, 99),
        lag_p99_ms=percentile(lags, 99), lag_max_ms=max(lags, default=math.nan),
        sample_errors=tuple(sorted(set(errors)))[:3])


def added_latency(gateway: StepSummary, direct: StepSummary) -> dict[str, float]:
    """What the gateway adds over the direct path at the same rate and mode (milliseconds)."""
    return {"p50_ms": gateway.p50_ms - direct.p50_ms, "p99_ms": gateway.p99_ms - direct.p99_ms,
            "ttfb_p50_ms": gateway.ttfb_p50_ms - direct.ttfb_p50_ms,
            "ttfb_p99_ms": gateway.ttfb_p99_ms - direct.ttfb_p99_ms}


def max_sustained(steps: Sequence[StepSummary], criteria: SustainCriteria) -> float | None:
    """The highest offered rate a target sustained, counting only rates below its first failure
    (a lucky step above a failed one is noise, not capacity)."""
    best = None
    for step in sorted(steps, key=lambda s: s.offered_rate):
        if not step.sustains(criteria):
            break
        best = step.offered_rate
    return best
