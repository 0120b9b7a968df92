"""Size the local fleet for a traffic profile and price it: replicas, spill, monthly cost, break-even.

For each local model the objective routes traffic to (`routing.route_shares`):
- replicas needed = ceil(peak demand / one replica's requests/s within the SLO) (`capacity`);
- under a cap on units (GPUs, or nodes for CPU profiles; all local models share it) replicas are added
  one at a time where the next one avoids the most remote spend per unit;
- every hour, demand beyond the deployed capacity spills to the slice's remote fallback model.
The fleet is fixed (sized for the peak, paid 24 h a day): hardware = replicas x units x price x hours.
Remote cost = requests x catalogue price of the mean request shape. Break-even: the hardware price per
unit-hour at which each model's fleet costs what its locally served requests would cost on its fallback
API, and the traffic scale at which the whole routed plan costs what the all-remote plan costs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from benchmarks.cost.hardware import HardwarePrices
from benchmarks.planner.capacity import replica_capacity_rps, slo_point
from benchmarks.planner.profiles import PerformanceProfile
from benchmarks.planner.routing import RouteShare, request_cost
from benchmarks.planner.traffic import TrafficProfile
from models.catalogue import Catalogue

__all__ = ["ModelPlan", "Plan", "PlanInputs", "break_even_scale", "build_plan"]

HOURS_PER_DAY = 24
RouteFn = Callable[[TrafficProfile], list[RouteShare]]


@dataclass(frozen=True)
class PlanInputs:
    traffic: TrafficProfile
    profiles: dict[str, PerformanceProfile]
    prices: HardwarePrices
    catalogue: Catalogue
    routes: list[RouteShare]
    unit_cap: int | None = None    # the most units (GPUs / nodes) for all local models together


@dataclass(frozen=True)
class ModelPlan:
    model: str
    profile: str                   # the profile's label
    provenance: str
    hardware: str
    unit: str
    units_per_replica: int
    share: float                   # of all requests routed here
    capacity_rps_per_replica: float
    slo_concurrency: float | None  # the profile point the capacity comes from (None: SLO never met)
    peak_demand_rps: float
    replicas_needed: int
    replicas: int
    peak_spill_rps: float
    local_requests_month: float
    spilled_requests_month: float
    hardware_cost_month: float
    break_even_price_per_unit_hour: float | None


@dataclass(frozen=True)
class Plan:
    traffic: str
    peak_rps: float
    requests_month: float
    unit_cap: int | None
    models: list[ModelPlan]
    remote: dict[str, dict[str, float]]          # model -> requests_month, cost_month
    hardware_cost_month: float
    remote_cost_month: float
    peak_spill_share: float                      # of all requests at the peak hour
    routes: list[RouteShare] = field(default_factory=list)

    @property
    def total_cost_month(self) -> float:
        return self.hardware_cost_month + self.remote_cost_month


def build_plan(inputs: PlanInputs) -> Plan:
    """The plan for `inputs` (see the module docstring)."""
    t = inputs.traffic
    local_routes = _local_routes(inputs)
    capacity = {m: replica_capacity_rps(inputs.profiles[m], t.slo, t.mean_input_tokens, t.mean_output_tokens)
                for m in local_routes}
    peak = {m: t.peak_rps * sum(r.share for r in rs) for m, rs in local_routes.items()}
    needed = {m: _replicas(peak[m], capacity[m]) for m in local_routes}
    replicas = _allocate(inputs, local_routes, capacity, peak, needed)
    remote_rps: dict[str, list[float]] = defaultdict(lambda: [0.0] * HOURS_PER_DAY)
    for r in inputs.routes:
        if r.model not in local_routes:
            for h, rate in enumerate(t.hourly_requests_per_s):
                remote_rps[r.model][h] += rate * r.share
    plans = [_model_plan(inputs, m, rs, capacity[m], peak[m], needed[m], replicas[m], remote_rps)
             for m, rs in local_routes.items()]
    seconds = 3600 * t.days_per_month
    remote = {m: {"requests_month": sum(rps) * seconds,
                  "cost_month": sum(rps) * seconds * _cost_of(inputs, m)} for m, rps in remote_rps.items()}
    peak_hour = t.hourly_requests_per_s.index(t.peak_rps)
    spilled_at_peak = sum(max(0.0, peak[m] - replicas[m] * capacity[m]) for m in local_routes)
    return Plan(
        traffic=t.name, peak_rps=t.peak_rps, requests_month=t.requests_per_day * t.days_per_month,
        unit_cap=inputs.unit_cap, models=plans, remote=remote,
        hardware_cost_month=sum(p.hardware_cost_month for p in plans),
        remote_cost_month=sum(v["cost_month"] for v in remote.values()),
        peak_spill_share=spilled_at_peak / t.hourly_requests_per_s[peak_hour] if t.peak_rps else 0.0,
        routes=list(inputs.routes))


def _local_routes(inputs: PlanInputs) -> dict[str, list[RouteShare]]:
    grouped: dict[str, list[RouteShare]] = defaultdict(list)
    for r in inputs.routes:
        if r.model in inputs.profiles:
            grouped[r.model].append(r)
    return dict(grouped)


def _replicas(peak_rps: float, capacity_rps: float) -> int:
    if peak_rps <= 0 or capacity_rps <= 0:
        return 0
    # NOTE: a tiny tolerance, so 2.0000000001 replicas of float noise do not become 3.
    return math.ceil(peak_rps / capacity_rps - 1e-9)


def _cost_of(inputs: PlanInputs, model: str) -> float:
    entry = inputs.catalogue.get(model)
    if entry is None:
        raise ValueError(f"model {model!r} is not in the catalogue")
    return request_cost(entry, inputs.traffic.mean_input_tokens, inputs.traffic.mean_output_tokens)


def _spill_cost(inputs: PlanInputs, routes: Sequence[RouteShare]) -> float:
    """Mean remote price of one request of these slices when it spills (0 when nowhere to spill)."""
    total = sum(r.share for r in routes)
    return sum(r.share * (_cost_of(inputs, r.spill_to) if r.spill_to else 0.0) for r in routes) / total


def _allocate(inputs: PlanInputs, local_routes: dict[str, list[RouteShare]], capacity: dict[str, float],
              peak: dict[str, float], needed: dict[str, int]) -> dict[str, int]:
    """Replicas per model: as needed, or greedily by remote spend avoided per unit under the cap."""
    units = {m: inputs.profiles[m].units_per_replica for m in local_routes}
    if inputs.unit_cap is None or sum(needed[m] * units[m] for m in needed) <= inputs.unit_cap:
        return dict(needed)
    replicas = dict.fromkeys(local_routes, 0)
    free = inputs.unit_cap
    while True:
        def gain(m: str) -> float:
            served = min(capacity[m], peak[m] - replicas[m] * capacity[m])
            return served * _spill_cost(inputs, local_routes[m]) / units[m]
        options = [m for m in replicas if replicas[m] < needed[m] and units[m] <= free]
        if not options:
            return replicas
        best = max(options, key=lambda m: (gain(m), -units[m], m))
        replicas[best] += 1
        free -= units[best]


def _model_plan(inputs: PlanInputs, model: str, routes: list[RouteShare], capacity: float, peak: float,
                needed: int, replicas: int, remote_rps: dict[str, list[float]]) -> ModelPlan:
    t = inputs.traffic
    profile = inputs.profiles[model]
    price = inputs.prices.get(profile.hardware)
    share = sum(r.share for r in routes)
    served = spilled = 0.0
    for h, rate in enumerate(t.hourly_requests_per_s):
        demand = rate * share
        local = min(demand, replicas * capacity)
        served += local
        spilled += demand - local
        for r in routes:
            if r.spill_to is not None:
                remote_rps[r.spill_to][h] += (demand - local) * r.share / share
    seconds = 3600 * t.days_per_month
    unit_hours = replicas * profile.units_per_replica * HOURS_PER_DAY * t.days_per_month
    avoided = served * seconds * _spill_cost(inputs, routes)
    point = slo_point(profile, t.slo)
    return ModelPlan(
        model=model, profile=profile.label, provenance=profile.provenance, hardware=profile.hardware,
        unit=price.unit, units_per_replica=profile.units_per_replica, share=share,
        capacity_rps_per_replica=capacity, slo_concurrency=None if point is None else point.concurrency,
        peak_demand_rps=peak, replicas_needed=needed, replicas=replicas,
        peak_spill_rps=max(0.0, peak - replicas * capacity), local_requests_month=served * seconds,
        spilled_requests_month=spilled * seconds, hardware_cost_month=unit_hours * price.price_per_hour,
        break_even_price_per_unit_hour=avoided / unit_hours if unit_hours else None)


def break_even_scale(routed: Callable[[float], float], remote: Callable[[float], float],
                     scales: Sequence[float]) -> float | None:
    """The smallest traffic scale in `scales` (ascending) at which the routed plan costs no more than
    the all-remote one, or None when it never does in that range."""
    for s in scales:
        if routed(s) <= remote(s) * (1 + 1e-9):
            return s
    return None
