"""Per-replica capacity at the SLO and predictions between measured points."""

from __future__ import annotations

import pytest

from benchmarks.planner.capacity import predict, replica_capacity_rps, slo_point
from benchmarks.planner.profiles import PerformanceProfile
from benchmarks.planner.traffic import Slo


def _profile() -> PerformanceProfile:
    def point(c: float, tok_s: float, ttft95: float, tpot: float) -> dict[str, object]:
        return {"concurrency": c, "output_tokens_per_s": tok_s, "ttft_ms": {"p50": ttft95 / 2, "p95": ttft95},
                "tpot_ms": {"p50": tpot}}

    return PerformanceProfile.model_validate({
        "model": "m", "hardware": "hw", "provenance": "measured", "source": "t", "as_of": "2026-01-01",
        "workload": {"input_tokens": 300, "output_tokens": 100}, "input_token_weight": 0.1,
        "points": [point(1, 10, 100, 20), point(5, 30, 500, 40), point(10, 40, 3000, 80)]})


def test_slo_point_is_the_fastest_point_meeting_every_objective() -> None:
    p = _profile()
    assert slo_point(p, Slo(ttft_p95_ms=1000)).concurrency == 5  # type: ignore[union-attr]
    assert slo_point(p, Slo(ttft_p95_ms=5000, tpot_p50_ms=50)).concurrency == 5  # type: ignore[union-attr]
    assert slo_point(p, Slo()).concurrency == 10  # type: ignore[union-attr]
    assert slo_point(p, Slo(ttft_p95_ms=50)) is None


def test_capacity_converts_length_mix_by_work() -> None:
    # Concurrency 10: 40 tok/s -> 0.4 req/s of (100 + 0.1 x 300) = 52 work/s; a 1000-in/200-out request
    # is 200 + 100 = 300 work, so 52 / 300 req/s.
    assert replica_capacity_rps(_profile(), Slo(), 1000, 200) == pytest.approx(52 / 300)
    assert replica_capacity_rps(_profile(), Slo(), 300, 100) == pytest.approx(0.4)
    assert replica_capacity_rps(_profile(), Slo(ttft_p95_ms=1), 300, 100) == 0.0


def test_predict_interpolates_and_flags_extrapolation() -> None:
    p = _profile()
    mid = predict(p, 3)
    assert mid.output_tokens_per_s == pytest.approx(20) and mid.ttft_p95_ms == pytest.approx(300)
    assert mid.tpot_p50_ms == pytest.approx(30) and not mid.extrapolated
    low = predict(p, 0.5)
    assert low.output_tokens_per_s == pytest.approx(5) and low.extrapolated
    high = predict(p, 20)
    assert high.output_tokens_per_s == pytest.approx(40) and high.extrapolated
    assert not predict(p, 10).extrapolated
