"""Local cost per 1M tokens next to the catalogue's API prices, at one stated input:output mix."""

from __future__ import annotations

from typing import Any

from benchmarks.cost.hardware import HardwarePrices
from benchmarks.cost.tokens import blended, token_costs
from benchmarks.planner.capacity import slo_point
from benchmarks.planner.profiles import PerformanceProfile
from benchmarks.planner.traffic import Slo
from models.catalogue import Catalogue

__all__ = ["cost_table"]


def cost_table(profiles: dict[str, PerformanceProfile], prices: HardwarePrices, catalogue: Catalogue, *,
               utilisation: float, input_tokens: float, output_tokens: float,
               slo: Slo | None = None) -> dict[str, Any]:
    """Rows for every profiled local model (at its best point, or its SLO point when `slo` is given and
    met) and every remote chat model, with per-1M input, output and blended prices."""
    rows: list[dict[str, Any]] = []
    for model, profile in profiles.items():
        price = prices.get(profile.hardware)
        point = slo_point(profile, slo) if slo is not None else None
        point = point or max(profile.points, key=lambda p: p.output_tokens_per_s)
        c = token_costs(profile, price, utilisation=utilisation, input_tokens=input_tokens,
                        output_tokens=output_tokens, point=point)
        rows.append({"model": model, "kind": "local", "input_per_mtok": c.input_per_mtok,
                     "output_per_mtok": c.output_per_mtok, "blended_per_mtok": c.blended_per_mtok,
                     "currency": c.currency, "basis": (
                         f"{profile.units_per_replica}x {profile.hardware} at ${price.price_per_hour:g}/"
                         f"{price.unit}-h ({price.as_of}), {point.output_tokens_per_s:g} output tok/s at "
                         f"concurrency {point.concurrency:g}, {utilisation:.0%} utilised; "
                         f"profile {profile.provenance}")})
    for entry in catalogue.models:
        if entry.is_local or not entry.capabilities.chat:
            continue
        p = entry.pricing
        rows.append({"model": entry.id, "kind": "remote", "input_per_mtok": p.input_per_mtok,
                     "output_per_mtok": p.output_per_mtok,
                     "blended_per_mtok": blended(p.input_per_mtok, p.output_per_mtok, input_tokens,
                                                 output_tokens),
                     "currency": p.currency, "basis": f"list price {p.as_of} ({p.source})"})
    return {"utilisation": utilisation, "mix": {"input_tokens": input_tokens, "output_tokens": output_tokens},
            "rows": rows}
