"""The planner on hand-computed cases: replicas at the peak, spill under a cap, costs, break-even."""

from __future__ import annotations

import datetime as dt

import pytest

from benchmarks.cost.hardware import HardwarePrice, HardwarePrices
from benchmarks.planner.plan import PlanInputs, break_even_scale, build_plan
from benchmarks.planner.profiles import PerformanceProfile
from benchmarks.planner.routing import RouteShare
from benchmarks.planner.traffic import TrafficProfile
from models.catalogue import Catalogue

HOURS_MONTH = 24 * 30


def _profile(model: str, tok_s: float, units: int = 1) -> PerformanceProfile:
    # 100-in/100-out workload and no prompt cost: tok_s / 100 requests/s per replica.
    return PerformanceProfile.model_validate({
        "model": model, "hardware": "gpu", "units_per_replica": units, "provenance": "published",
        "source": "t", "as_of": "2026-01-01", "workload": {"input_tokens": 100, "output_tokens": 100},
        "input_token_weight": 0.0,
        "points": [{"concurrency": 8, "output_tokens_per_s": tok_s, "ttft_ms": {"p50": 100, "p95": 500},
                    "tpot_ms": {"p50": 20}},
                   {"concurrency": 64, "output_tokens_per_s": 10 * tok_s, "ttft_ms": {"p50": 9000},
                    "tpot_ms": {"p50": 90}}]})


def _catalogue() -> Catalogue:
    def local(model: str) -> dict[str, object]:
        return {"id": model, "kind": "local", "provider": "stellwerk-local", "license": "x",
                "weights": {"type": "hf-hub", "repo": "x/y"}, "engine": {"max_model_len": 4096},
                "accelerator": "gpu", "capabilities": {"context_length": 4096},
                "pricing": {"input_per_mtok": 0, "output_per_mtok": 0},
                "residency": {"jurisdiction": "on-prem", "leaves_premises": False}}

    remote = {"id": "rem", "kind": "remote", "provider": "p", "license": "x",
              "remote": {"type": "openai", "base_url": "http://x", "model": "r", "api_key_env": "K"},
              "capabilities": {"context_length": 100000},
              "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 3.0},
              "residency": {"jurisdiction": "US", "leaves_premises": True}}
    return Catalogue.model_validate({"models": [local("loc"), local("big"), remote]})


PRICES = HardwarePrices(hardware={"gpu": HardwarePrice(unit="gpu", price_per_hour=2.0,
                                                       as_of=dt.date(2026, 1, 1), source="t")})
REQUEST_COST = (100 * 1.0 + 100 * 3.0) / 1e6  # one 100/100 request on `rem`


def _traffic(rates: list[float]) -> TrafficProfile:
    return TrafficProfile.model_validate({
        "hourly_requests_per_s": rates, "lengths": [{"input_tokens": 100, "output_tokens": 100, "share": 1}],
        "task_mix": {"general": 1.0}, "slo": {"ttft_p95_ms": 1000, "tpot_p50_ms": 50}})


def _inputs(rates: list[float], routes: list[RouteShare], cap: int | None = None,
            profiles: dict[str, PerformanceProfile] | None = None) -> PlanInputs:
    return PlanInputs(_traffic(rates), profiles or {"loc": _profile("loc", 1000)}, PRICES, _catalogue(),
                      routes, cap)


ALL_LOCAL = [RouteShare("general", False, 1.0, "loc", "cheapest", "rem")]


def test_two_replicas_at_the_peak() -> None:
    # SLO point: concurrency 8 (the 64 point misses TTFT), 1000 tok/s = 10 req/s per replica; peak 15.
    plan = build_plan(_inputs([15.0] + [5.0] * 23, ALL_LOCAL))
    (m,) = plan.models
    assert m.capacity_rps_per_replica == pytest.approx(10) and m.slo_concurrency == 8
    assert (m.replicas_needed, m.replicas, m.peak_spill_rps) == (2, 2, 0)
    assert plan.hardware_cost_month == pytest.approx(2 * HOURS_MONTH * 2.0)
    assert plan.remote_cost_month == 0 and plan.peak_spill_share == 0


def test_exact_fit_does_not_round_up() -> None:
    assert build_plan(_inputs([20.0] * 24, ALL_LOCAL)).models[0].replicas_needed == 2


def test_spill_share_under_a_gpu_cap() -> None:
    plan = build_plan(_inputs([15.0] * 24, ALL_LOCAL, cap=1))
    (m,) = plan.models
    assert (m.replicas_needed, m.replicas) == (2, 1)
    assert m.peak_spill_rps == pytest.approx(5) and plan.peak_spill_share == pytest.approx(1 / 3)
    spilled = 5 * 3600 * HOURS_MONTH
    assert m.spilled_requests_month == pytest.approx(spilled)
    assert plan.remote["rem"]["requests_month"] == pytest.approx(spilled)
    assert plan.remote_cost_month == pytest.approx(spilled * REQUEST_COST)
    assert plan.hardware_cost_month == pytest.approx(HOURS_MONTH * 2.0)


def test_break_even_hardware_price() -> None:
    # 15 req/s served locally all month, worth REQUEST_COST each on the API, over 2 GPUs x 720 h.
    m = build_plan(_inputs([15.0] * 24, ALL_LOCAL)).models[0]
    assert m.break_even_price_per_unit_hour == pytest.approx(15 * 3600 * HOURS_MONTH * REQUEST_COST
                                                             / (2 * HOURS_MONTH))
    assert m.break_even_price_per_unit_hour == pytest.approx(10.8)


def test_remote_routes_and_split_shares() -> None:
    routes = [RouteShare("general", False, 0.75, "loc", "cheapest", "rem"),
              RouteShare("math", False, 0.25, "rem", "quality-floor", "rem")]
    plan = build_plan(_inputs([8.0] * 24, routes))
    assert plan.models[0].peak_demand_rps == pytest.approx(6) and plan.models[0].replicas == 1
    assert plan.remote["rem"]["requests_month"] == pytest.approx(2 * 3600 * HOURS_MONTH)


def test_cap_goes_to_the_replica_that_avoids_most_remote_spend_per_unit() -> None:
    # `big` needs 2-GPU replicas: one of its replicas avoids 10 req/s per 2 units, one `loc` replica 10
    # per unit. With 2 units, `loc` gets both.
    profiles = {"loc": _profile("loc", 1000), "big": _profile("big", 1000, units=2)}
    routes = [RouteShare("general", False, 0.5, "loc", "cheapest", "rem"),
              RouteShare("coding", False, 0.5, "big", "cheapest", "rem")]
    plan = build_plan(_inputs([40.0] * 24, routes, cap=2, profiles=profiles))
    replicas = {m.model: m.replicas for m in plan.models}
    assert replicas == {"loc": 2, "big": 0}
    assert plan.peak_spill_share == pytest.approx(20 / 40)


def test_a_model_that_never_meets_the_slo_spills_everything() -> None:
    slow = _profile("loc", 1000).model_copy(update={"points": [_profile("loc", 1000).points[1]]})
    plan = build_plan(_inputs([10.0] * 24, ALL_LOCAL, profiles={"loc": slow}))
    assert plan.models[0].replicas == 0 and plan.models[0].slo_concurrency is None
    assert plan.peak_spill_share == pytest.approx(1.0) and plan.hardware_cost_month == 0


def test_break_even_scale() -> None:
    scales = [1, 10, 50, 99, 100, 200]
    assert break_even_scale(lambda s: 100 + s, lambda s: 2 * s, scales) == 100
    assert break_even_scale(lambda s: 100 + 3 * s, lambda s: 2 * s, scales) is None
