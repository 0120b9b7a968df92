"""Queries over the cost ledger: costs per tenant/model/provider/day, spend for budgets, frontier baseline.

Days are UTC calendar days; `since` and `until` are inclusive. A tenant filter is applied in SQL, so a
caller that passes its own tenant can never see another tenant's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from router.store.backend import Params
from router.store.clock import to_us
from router.store.database import Database

__all__ = ["CostQueries", "CostRow"]


@dataclass(frozen=True)
class CostRow:
    """Totals for one tenant, model, provider, currency and day."""

    tenant: str
    model: str
    provider: str
    day: date
    currency: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    cached_tokens: int = 0  # of prompt_tokens, read from the provider's prompt cache
    reasoning_tokens: int = 0  # of completion_tokens, spent thinking


def _filters(tenant: str | None, since: date | None, until: date | None) -> tuple[str, Params]:
    clauses: list[str] = []
    params: list[object] = []
    for clause, value in (("tenant = ?", tenant), ("day >= ?", since), ("day <= ?", until)):
        if value is not None:
            clauses.append(clause)
            params.append(value.isoformat() if isinstance(value, date) else value)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


class CostQueries:
    """Read-only queries; writing goes through `LedgerWriter`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def costs(self, *, tenant: str | None = None, since: date | None = None,
              until: date | None = None) -> list[CostRow]:
        """Per tenant, model, provider, currency and day: requests, tokens in/out and cost; ordered by day."""
        where, params = _filters(tenant, since, until)
        with self._db.read() as cur:
            rows = cur.fetchall(
                "SELECT tenant, model, provider, day, currency, COUNT(*), SUM(prompt_tokens), "
                "SUM(completion_tokens), SUM(cost), SUM(cached_tokens), SUM(reasoning_tokens) "
                f"FROM ledger {where} "
                "GROUP BY tenant, model, provider, day, currency "
                "ORDER BY day, tenant, model, provider, currency", params)
        return [CostRow(t, m, p, date.fromisoformat(d), c, int(n), int(pt), int(ct), float(cost),
                        int(ca or 0), int(rt or 0))
                for t, m, p, d, c, n, pt, ct, cost, ca, rt in rows]

    def spent(self, tenant: str, since: datetime) -> float:
        """What `tenant` has spent from `since` (inclusive) until now, for budget checks."""
        with self._db.read() as cur:
            rows = cur.fetchall("SELECT SUM(cost) FROM ledger WHERE tenant = ? AND ts_us >= ?",
                                (tenant, to_us(since)))
        return float(rows[0][0] or 0.0)

    def baseline_cost(self, *, input_per_mtok: float, output_per_mtok: float, tenant: str | None = None,
                      since: date | None = None, until: date | None = None,
                      cached_input_per_mtok: float | None = None) -> float:
        """What the recorded tokens would have cost at the given per-million-token prices (a frontier
        model's), for "savings against sending everything to the frontier model". Cached prompt tokens
        are priced at `cached_input_per_mtok` when given (the same prefix would be cached there too)."""
        where, params = _filters(tenant, since, until)
        with self._db.read() as cur:
            rows = cur.fetchall(
                f"SELECT SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens) FROM ledger {where}",
                params)
        prompt, completion, cached = (int(v or 0) for v in rows[0])
        cached_rate = input_per_mtok if cached_input_per_mtok is None else cached_input_per_mtok
        uncached = prompt - cached
        return (uncached * input_per_mtok + cached * cached_rate + completion * output_per_mtok) / 1e6
