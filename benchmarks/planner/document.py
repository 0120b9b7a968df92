"""The plan document (JSON-ready): inputs with their sources, the cost table, the routed plan, the other
scenarios, the break-even points and the scans the plots are drawn from. One document is the single
source of every number in the Markdown report and the plots."""

from __future__ import annotations

import dataclasses
from typing import Any

from benchmarks.cost.compare import cost_table
from benchmarks.planner.plan import Plan
from benchmarks.planner.scenarios import Context, scale_grid, scenarios, traffic_scan
from benchmarks.planner.traffic import TrafficProfile

__all__ = ["SCHEMA", "plan_document"]

SCHEMA = "stellwerk-plan/1"


def plan_document(ctx: Context, traffic: TrafficProfile, *, utilisation: float) -> dict[str, Any]:
    """Everything `stellwerk plan` reports (see the module docstring)."""
    all_scenarios = scenarios(ctx, traffic)
    routed = all_scenarios[0].plan
    scan = traffic_scan(ctx, traffic, scale_grid())
    return {
        "schema": SCHEMA,
        "traffic": {"name": traffic.name, "peak_rps": traffic.peak_rps,
                    "requests_per_day": traffic.requests_per_day, "days_per_month": traffic.days_per_month,
                    "mean_input_tokens": traffic.mean_input_tokens,
                    "mean_output_tokens": traffic.mean_output_tokens, "task_mix": traffic.task_mix,
                    "hard_share": traffic.hard_share, "slo": traffic.slo.model_dump(),
                    "hourly_requests_per_s": traffic.hourly_requests_per_s},
        "objective": ctx.objective, "unit_cap": ctx.unit_cap,
        "profiles": {m: {"label": p.label, "provenance": p.provenance, "source": p.source,
                         "as_of": p.as_of.isoformat(), "engine": p.engine, "notes": p.notes}
                     for m, p in ctx.profiles.items()},
        "hardware_prices": {h: p.model_dump(mode="json") for h, p in ctx.prices.hardware.items()
                            if any(pr.hardware == h for pr in ctx.profiles.values())},
        "cost_per_mtok": cost_table(ctx.profiles, ctx.prices, ctx.catalogue, utilisation=utilisation,
                                    input_tokens=traffic.mean_input_tokens,
                                    output_tokens=traffic.mean_output_tokens, slo=traffic.slo),
        "plan": plan_json(routed),
        "scenarios": [{"name": s.name, "hardware_cost_month": s.plan.hardware_cost_month,
                       "remote_cost_month": s.plan.remote_cost_month,
                       "total_cost_month": s.plan.total_cost_month,
                       "units": sum(m.replicas * m.units_per_replica for m in s.plan.models),
                       "peak_spill_share": s.plan.peak_spill_share} for s in all_scenarios],
        "break_even": {
            "price_per_unit_hour": {m.model: m.break_even_price_per_unit_hour for m in routed.models},
            "break_even_scale": scan["break_even_scale"],
            "break_even_requests_per_day": scan["break_even_requests_per_day"]},
        "scans": {"traffic": scan["rows"], "unit_cap": _cap_scan(ctx, traffic, routed)},
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    return {"total_cost_month": plan.total_cost_month, "hardware_cost_month": plan.hardware_cost_month,
            "remote_cost_month": plan.remote_cost_month, "peak_spill_share": plan.peak_spill_share,
            "requests_month": plan.requests_month, "models": [dataclasses.asdict(m) for m in plan.models],
            "remote": plan.remote, "routes": [dataclasses.asdict(r) for r in plan.routes]}


def _cap_scan(ctx: Context, traffic: TrafficProfile, routed: Plan) -> list[dict[str, float]]:
    """Monthly cost and peak spill for every unit cap from 0 to what the uncapped plan needs."""
    needed = sum(m.replicas_needed * m.units_per_replica for m in routed.models)
    routes = ctx.routes(traffic)
    rows = []
    for cap in range(needed + 1):
        plan = dataclasses.replace(ctx, unit_cap=cap).plan(traffic, routes)
        rows.append({"units": cap, "total_cost_month": plan.total_cost_month,
                     "hardware_cost_month": plan.hardware_cost_month,
                     "remote_cost_month": plan.remote_cost_month, "peak_spill_share": plan.peak_spill_share})
    return rows
