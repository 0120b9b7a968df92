"""The cost report: spending per tenant, model and day from the ledger, and the savings against sending
every request's tokens to one frontier model instead (the "everything to the frontier" baseline)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from typing import Any

from models.catalogue import ModelEntry
from router.store import CostQueries

__all__ = ["cost_report", "default_baseline"]


def default_baseline(models: Sequence[ModelEntry]) -> ModelEntry | None:
    """The remote chat model with the highest prices: what "everything to the frontier" would use."""
    remote = [m for m in models if not m.is_local and m.capabilities.chat]
    return max(remote, key=lambda m: (m.pricing.output_per_mtok, m.pricing.input_per_mtok), default=None)


def cost_report(ledger: CostQueries, *, baseline: ModelEntry | None, tenant: str | None = None,
                since: date | None = None, until: date | None = None) -> dict[str, Any]:
    """Rows per tenant/model/provider/day, totals per tenant, and the baseline comparison.

    Pass `tenant` to restrict everything (rows, totals, baseline) to one tenant's requests."""
    rows = ledger.costs(tenant=tenant, since=since, until=until)
    tenants: dict[str, dict[str, Any]] = {}
    for row in rows:
        t = tenants.setdefault(row.tenant, {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0,
                                            "cached_tokens": 0, "reasoning_tokens": 0, "cost": 0.0})
        t["requests"] += row.requests
        t["prompt_tokens"] += row.prompt_tokens
        t["completion_tokens"] += row.completion_tokens
        t["cached_tokens"] += row.cached_tokens
        t["reasoning_tokens"] += row.reasoning_tokens
        t["cost"] += row.cost
    for name, totals in tenants.items():
        if baseline is not None:
            base = ledger.baseline_cost(input_per_mtok=baseline.pricing.input_per_mtok,
                                        output_per_mtok=baseline.pricing.output_per_mtok,
                                        cached_input_per_mtok=baseline.pricing.cached_input_per_mtok,
                                        tenant=name, since=since, until=until)
            totals["baseline_cost"] = round(base, 6)
            totals["savings"] = round(base - totals["cost"], 6)
            totals["savings_pct"] = round(100 * (base - totals["cost"]) / base, 1) if base > 0 else None
        totals["cost"] = round(totals["cost"], 6)
    return {
        "object": "stellwerk.costs",
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "baseline": None if baseline is None else {
            "model": baseline.id, "input_per_mtok": baseline.pricing.input_per_mtok,
            "output_per_mtok": baseline.pricing.output_per_mtok,
            "cached_input_per_mtok": baseline.pricing.cached_input_per_mtok,
            "currency": baseline.pricing.currency},
        "tenants": tenants,
        "rows": [{**asdict(r), "day": r.day.isoformat(), "cost": round(r.cost, 6)} for r in rows],
    }
