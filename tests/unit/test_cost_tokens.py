"""Cost per 1M tokens: hand-computed arithmetic of the cost model."""

from __future__ import annotations

import datetime as dt

import pytest

from benchmarks.cost.hardware import HardwarePrice
from benchmarks.cost.tokens import blended, token_costs
from benchmarks.planner.profiles import PerformanceProfile


def _profile(tokens_per_s: float = 1000.0, units: int = 1) -> PerformanceProfile:
    return PerformanceProfile.model_validate({
        "model": "m", "hardware": "hw", "units_per_replica": units, "provenance": "published",
        "source": "test", "as_of": "2026-01-01", "workload": {"input_tokens": 300, "output_tokens": 100},
        "input_token_weight": 0.1,
        "points": [{"concurrency": 1, "output_tokens_per_s": tokens_per_s / 4,
                    "ttft_ms": {"p50": 10}, "tpot_ms": {"p50": 5}},
                   {"concurrency": 8, "output_tokens_per_s": tokens_per_s,
                    "ttft_ms": {"p50": 50}, "tpot_ms": {"p50": 9}}]})


PRICE = HardwarePrice(unit="gpu", price_per_hour=3.6, as_of=dt.date(2026, 1, 1), source="test")


def test_token_costs_by_hand() -> None:
    # work/s = 1000/100 x (100 + 0.1 x 300) = 1300; per paid hour at 50 %: 2.34M; $3.6 / 2.34M x 1e6.
    c = token_costs(_profile(), PRICE, utilisation=0.5, input_tokens=3, output_tokens=1)
    assert c.output_per_mtok == pytest.approx(3.6 / 2.34)
    assert c.input_per_mtok == pytest.approx(0.36 / 2.34)
    assert c.blended_per_mtok == pytest.approx(0.5)  # (3 x 0.1538 + 1.538) / 4
    assert c.currency == "USD"


def test_cost_scales_with_units_and_utilisation() -> None:
    one = token_costs(_profile(), PRICE, utilisation=1.0, input_tokens=1, output_tokens=1)
    two_gpus_half_busy = token_costs(_profile(units=2), PRICE, utilisation=0.5, input_tokens=1,
                                     output_tokens=1)
    assert two_gpus_half_busy.output_per_mtok == pytest.approx(4 * one.output_per_mtok)


def test_explicit_point_is_used() -> None:
    profile = _profile()
    slow = token_costs(profile, PRICE, utilisation=1.0, input_tokens=1, output_tokens=1,
                       point=profile.points[0])
    fast = token_costs(profile, PRICE, utilisation=1.0, input_tokens=1, output_tokens=1)
    assert slow.output_per_mtok == pytest.approx(4 * fast.output_per_mtok)


@pytest.mark.parametrize("utilisation", [0.0, -0.1, 1.5])
def test_bad_utilisation_is_refused(utilisation: float) -> None:
    with pytest.raises(ValueError, match="utilisation"):
        token_costs(_profile(), PRICE, utilisation=utilisation, input_tokens=1, output_tokens=1)


def test_blended_price() -> None:
    assert blended(0.15, 0.60, 3, 1) == pytest.approx(0.2625)
