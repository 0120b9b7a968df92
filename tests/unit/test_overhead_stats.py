"""The overhead benchmark's statistics on scripted outcomes: percentiles, achieved rate, "sustains",
added latency, the highest sustained rate and the bisection probe."""

from __future__ import annotations

import math

import pytest

from benchmarks.overhead.schedule import Outcome
from benchmarks.overhead.stats import (
    StepSummary,
    SustainCriteria,
    added_latency,
    max_sustained,
    percentile,
    summarize,
)
from benchmarks.overhead.sweep import next_probe


def test_percentile_interpolates_like_numpy() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 101)


def _outcomes(rate: float, count: int, latency_s: float, errors: int = 0) -> list[Outcome]:
    """`count` requests at `rate`, each `latency_s` long; the last `errors` of them failed."""
    out = []
    for i in range(count):
        due = i / rate
        error = "ValueError: bad" if i >= count - errors else None
        out.append(Outcome(due, due, due + latency_s / 2, due + latency_s, error=error))
    return out


def test_summary_leaves_out_the_warmup_and_measures_the_achieved_rate() -> None:
    outcomes = _outcomes(100, 300, 0.002)  # 3 s at 100/s
    s = summarize("stellwerk", "non-streaming", 100, outcomes, warmup_s=1.0)
    assert s.measured == 200 and s.ok == 200 and s.errors == 0
    # 200 answers from the first measured due time (1.0 s) to the last end (2.99 + 0.002 s)
    assert s.achieved_rate == pytest.approx(200 / (2.99 + 0.002 - 1.0))
    assert s.p50_ms == pytest.approx(2.0) and s.p99_ms == pytest.approx(2.0)
    assert s.ttfb_p50_ms == pytest.approx(1.0)
    assert s.sustains(SustainCriteria())


def test_a_server_that_drains_late_does_not_sustain() -> None:
    # requests due over 2 s, but each finishes 1 s late: achieved ~ 200 / 3 s, p99 1000 ms
    s = summarize("litellm", "streaming", 100, _outcomes(100, 200, 1.0), warmup_s=0)
    assert s.achieved_rate == pytest.approx(200 / 2.99, rel=1e-3)
    assert not s.sustains(SustainCriteria())
    assert s.sustains(SustainCriteria(min_ratio=0.6, p99_bound_ms=2000))


def test_errors_and_dropped_requests_count_against_sustaining() -> None:
    outcomes = _outcomes(100, 200, 0.001, errors=2)
    outcomes.append(Outcome(1.5, 1.5, 1.5, 1.5, error="dropped", dropped=True))
    s = summarize("stellwerk", "non-streaming", 100, outcomes, warmup_s=0)
    assert (s.errors, s.dropped, s.ok) == (2, 1, 198)
    assert s.error_rate == pytest.approx(3 / 201)
    assert s.sample_errors == ("ValueError: bad",)
    assert not s.sustains(SustainCriteria())
    assert s.sustains(SustainCriteria(max_error_rate=0.02))


def _step(target: str, rate: float, p50: float, p99: float, achieved: float | None = None) -> StepSummary:
    return StepSummary(target=target, mode="non-streaming", offered_rate=rate, measured=100, ok=100,
                       errors=0, dropped=0, achieved_rate=rate if achieved is None else achieved, p50_ms=p50,
                       p90_ms=p99, p99_ms=p99, max_ms=p99, ttfb_p50_ms=p50 / 2, ttfb_p99_ms=p99 / 2,
                       lag_p99_ms=0.1, lag_max_ms=0.2)


def test_added_latency_is_the_difference_of_percentiles() -> None:
    added = added_latency(_step("stellwerk", 500, 3.0, 9.0), _step("direct", 500, 1.0, 4.0))
    assert added == {"p50_ms": 2.0, "p99_ms": 5.0, "ttfb_p50_ms": 1.0, "ttfb_p99_ms": 2.5}


def test_max_sustained_stops_at_the_first_failure() -> None:
    criteria = SustainCriteria()
    steps = [_step("s", 50, 1, 2), _step("s", 100, 1, 2), _step("s", 200, 1, 2, achieved=150),
             _step("s", 500, 1, 2)]  # a lucky step above a failure is not capacity
    assert max_sustained(steps, criteria) == 100
    assert max_sustained([_step("s", 50, 1, 200)], criteria) is None


def test_next_probe_bisects_between_sustained_and_failed() -> None:
    criteria = SustainCriteria()
    steps = [_step("s", 100, 1, 2), _step("s", 200, 1, 2), _step("s", 500, 1, 2, achieved=300)]
    assert next_probe(steps, criteria) == 350
    assert next_probe([*steps, _step("s", 350, 1, 2)], criteria) == 420  # (350 + 500) / 2 rounded to 10
    assert next_probe(steps[:2], criteria) is None  # nothing failed
    assert next_probe([_step("s", 100, 1, 2), _step("s", 110, 1, 200)], criteria) is None  # too close
