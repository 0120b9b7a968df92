"""The traffic mix priced several ways: as Stellwerk routes it, all-remote, and all-local.

- `routed`: the objective's choices with the local models (the plan).
- `remote-by-objective`: the same objective with no local model (the cheapest remote model that
  meets the quality floor per slice: what the router would do without our machines).
- `all-remote:<model>`: every request to one remote model.
- `all-local:<model>`: every request to one local model (fleet sized for the whole peak; under a unit
  cap the excess spills to the routed plan's fallback model of each slice).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.cost.hardware import HardwarePrices
from benchmarks.planner.plan import Plan, PlanInputs, break_even_scale, build_plan
from benchmarks.planner.profiles import PerformanceProfile
from benchmarks.planner.routing import RouteShare, route_shares
from benchmarks.planner.traffic import TrafficProfile
from models.catalogue import Catalogue
from models.quality import QualityTable
from router.routing.config import RoutingConfig

__all__ = ["Context", "Scenario", "scale_grid", "scenarios", "traffic_scan"]


@dataclass(frozen=True)
class Context:
    """Everything a scenario needs besides the traffic."""

    catalogue: Catalogue
    quality: QualityTable
    routing: RoutingConfig
    objective: str
    profiles: dict[str, PerformanceProfile]
    prices: HardwarePrices
    unit_cap: int | None

    def routes(self, traffic: TrafficProfile, local: Sequence[str] | None = None) -> list[RouteShare]:
        return route_shares(catalogue=self.catalogue, quality=self.quality, config=self.routing,
                            objective=self.objective,
                            local_models=self.profiles if local is None else local,
                            task_mix=traffic.task_mix, hard_share=traffic.hard_share,
                            input_tokens=traffic.mean_input_tokens, output_tokens=traffic.mean_output_tokens)

    def plan(self, traffic: TrafficProfile, routes: list[RouteShare]) -> Plan:
        return build_plan(PlanInputs(traffic, self.profiles, self.prices, self.catalogue, routes,
                                     self.unit_cap))


@dataclass(frozen=True)
class Scenario:
    name: str
    plan: Plan


def scenarios(ctx: Context, traffic: TrafficProfile) -> list[Scenario]:
    """routed, remote-by-objective, all-remote per remote model, all-local per profiled model."""
    routed = ctx.routes(traffic)
    out = [Scenario("routed", ctx.plan(traffic, routed)),
           Scenario("remote-by-objective", ctx.plan(traffic, ctx.routes(traffic, local=[])))]
    for entry in ctx.catalogue.models:
        allowed = ctx.routing.policy.reject_reason(entry) is None
        if not entry.is_local and entry.capabilities.chat and allowed:
            out.append(Scenario(f"all-remote:{entry.id}", ctx.plan(traffic, _all_to(routed, entry.id, None))))
    for model in ctx.profiles:
        out.append(Scenario(f"all-local:{model}", ctx.plan(traffic, _all_to(routed, model, "keep"))))
    return out


def _all_to(routes: list[RouteShare], model: str, spill: str | None) -> list[RouteShare]:
    return [dataclasses.replace(r, model=model, reason="scenario",
                                spill_to=r.spill_to if spill == "keep" else None) for r in routes]


def scale_grid(low: float = 1e-3, high: float = 1e3, points_per_decade: int = 20) -> list[float]:
    """Geometric traffic scale factors from `low` to `high`."""
    n = round(math.log10(high / low) * points_per_decade)
    return [low * 10 ** (i / points_per_decade) for i in range(n + 1)]


def traffic_scan(ctx: Context, traffic: TrafficProfile, scales: Sequence[float]) -> dict[str, Any]:
    """Monthly cost of the routed and remote-by-objective plans over traffic scales, and the break-even."""
    routed = ctx.routes(traffic)
    remote = ctx.routes(traffic, local=[])
    uses_local = any(r.model in ctx.profiles for r in routed)
    rows = []
    for s in scales:
        scaled = traffic.scaled(s)
        rows.append({"scale": s, "requests_per_day": scaled.requests_per_day,
                     "routed": ctx.plan(scaled, routed).total_cost_month,
                     "remote": ctx.plan(scaled, remote).total_cost_month})
    by_scale = {row["scale"]: row for row in rows}
    scale = break_even_scale(lambda s: by_scale[s]["routed"], lambda s: by_scale[s]["remote"],
                             scales) if uses_local else None
    return {"rows": rows, "break_even_scale": scale,
            "break_even_requests_per_day": None if scale is None else scale * traffic.requests_per_day}
