"""Per-tenant budgets: what a tenant has spent today and this month (UTC), from the cost ledger.

The totals are read from the ledger at start and every `refresh_s` (so spending through other routers
counts too), and this router adds each request it records at once. A tenant over its daily or monthly
budget gets 429 `insufficient_quota`, with Retry-After until the day (or month) turns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from router.errors import QuotaExceeded
from router.store import CostQueries
from router.tenancy.config import Budget

__all__ = ["BudgetTracker"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Spent:
    day: datetime
    today: float
    month: datetime
    this_month: float


class BudgetTracker:
    def __init__(self, ledger: CostQueries, clock: Callable[[], datetime] = _utc_now) -> None:
        self._ledger = ledger
        self._clock = clock
        self._spent: dict[str, _Spent] = {}
        self._lock = threading.Lock()

    def refresh(self, tenants: Iterable[str]) -> None:
        """Re-read today's and this month's spending of `tenants` from the ledger (blocking)."""
        now = self._clock()
        day, month = _day(now), _month(now)
        for tenant in tenants:
            spent = _Spent(day, self._ledger.spent(tenant, day), month, self._ledger.spent(tenant, month))
            with self._lock:
                self._spent[tenant] = spent

    def add(self, tenant: str, cost: float) -> None:
        with self._lock:
            spent = self._current(tenant)
            spent.today += cost
            spent.this_month += cost

    def check(self, tenant: str, budget: Budget, currency: str = "USD") -> None:
        """Raise `QuotaExceeded` if the tenant has used up its daily or monthly budget."""
        if budget.per_day is None and budget.per_month is None:
            return
        with self._lock:
            spent = self._current(tenant)
        now = self._clock()
        if budget.per_day is not None and spent.today >= budget.per_day:
            reset = spent.day + timedelta(days=1)
            raise QuotaExceeded(f"tenant {tenant!r} has spent {spent.today:.4f} {currency} today, its daily "
                                f"budget is {budget.per_day:g}; it resets at {reset:%Y-%m-%d %H:%M} UTC",
                                retry_after_s=(reset - now).total_seconds())
        if budget.per_month is not None and spent.this_month >= budget.per_month:
            reset = _next_month(spent.month)
            raise QuotaExceeded(f"tenant {tenant!r} has spent {spent.this_month:.4f} {currency} this month, "
                                f"its monthly budget is {budget.per_month:g}; it resets on "
                                f"{reset:%Y-%m-%d} UTC",
                                retry_after_s=(reset - now).total_seconds())

    def _current(self, tenant: str) -> _Spent:
        """The tenant's totals, rolled over to zero when the day or month has turned."""
        now = self._clock()
        day, month = _day(now), _month(now)
        spent = self._spent.setdefault(tenant, _Spent(day, 0.0, month, 0.0))
        if spent.day != day:
            spent.day, spent.today = day, 0.0
        if spent.month != month:
            spent.month, spent.this_month = month, 0.0
        return spent


def _day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _month(now: datetime) -> datetime:
    return _day(now).replace(day=1)


def _next_month(month: datetime) -> datetime:
    return (month + timedelta(days=32)).replace(day=1)
