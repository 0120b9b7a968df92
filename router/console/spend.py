"""Spend over time for the console: the ledger in time buckets by tenant and model, and what the same
tokens would have cost on the all-frontier baseline model."""

from __future__ import annotations

import time
from typing import Any

from models.catalogue import ModelEntry
from router.store import Database

__all__ = ["WINDOWS", "spend_over_time"]

# name → (seconds looked back, bucket seconds)
WINDOWS: dict[str, tuple[int, int]] = {
    "hour": (3600, 60), "day": (86_400, 3600), "month": (30 * 86_400, 86_400)}

_QUERY = (
    "SELECT ts_us / ? AS bucket, tenant, model, currency, COUNT(*), SUM(prompt_tokens), "
    "SUM(completion_tokens), SUM(cost) FROM ledger WHERE ts_us >= ? "
    "GROUP BY bucket, tenant, model, currency ORDER BY bucket, tenant, model")


def spend_over_time(db: Database, window: str, baseline: ModelEntry | None,
                    now: float | None = None) -> dict[str, Any]:
    """Buckets of `WINDOWS[window]` with requests, tokens and cost per tenant and model; per-tenant
    totals with the baseline's cost and the savings against it."""
    span_s, bucket_s = WINDOWS[window]
    since_us = int(((now if now is not None else time.time()) - span_s) * 1e6)
    with db.read() as cur:
        rows = cur.fetchall(_QUERY, (bucket_s * 1_000_000, since_us))
    buckets = [{"start": int(b) * bucket_s, "tenant": t, "model": m, "currency": c, "requests": int(n),
                "prompt_tokens": int(p or 0), "completion_tokens": int(o or 0), "cost": float(cost or 0.0)}
               for b, t, m, c, n, p, o, cost in rows]
    return {"window": window, "bucket_s": bucket_s, "buckets": buckets,
            "baseline": None if baseline is None else baseline.id,
            "tenants": _totals(buckets, baseline)}


def _totals(buckets: list[dict[str, Any]], baseline: ModelEntry | None) -> dict[str, dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = {}
    for b in buckets:
        t = totals.setdefault(b["tenant"], {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0,
                                            "cost": 0.0})
        for k in ("requests", "prompt_tokens", "completion_tokens", "cost"):
            t[k] += b[k]
    for t in totals.values():
        if baseline is None:
            continue
        p = baseline.pricing
        base = (t["prompt_tokens"] * p.input_per_mtok + t["completion_tokens"] * p.output_per_mtok) / 1e6
        t["baseline_cost"] = base
        t["savings"] = base - t["cost"]
        t["savings_pct"] = round(100 * (base - t["cost"]) / base, 1) if base > 0 else None
    return totals
