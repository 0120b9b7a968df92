"""Per-tenant rate limits: requests and tokens per minute, over a sliding 60-second window.

Admission counts a request and its estimated tokens (prompt + requested output) before it runs; when
the answer's real usage is known, `settle` replaces the estimate. A request that would exceed a limit
gets 429 with Retry-After: the seconds until enough of the window has passed.

Two limiters with one interface:
* `RateLimiter` keeps the window in this process (one router; also the fallback below).
* `SharedRateLimiter` keeps it in the database every router already shares (keys, bans, ledger), so a
  limit holds for the whole cluster: with two routers and 10 requests/minute, 10 in total. Each
  admission is one short write transaction, serialised per tenant (PostgreSQL: an advisory lock on the
  tenant; SQLite, one host: its write lock). Failure mode: when the database cannot be reached the
  router falls back to its own in-process window (logged once per outage) — limits then hold per router,
  not per cluster, until the database answers again; requests are not refused for it. Router clocks
  must agree to well under the 60-second window (NTP).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from router.store import Database
from router.store.backend import Cursor
from router.tenancy.config import Limits
from serving.errors import RateLimited

__all__ = ["Admission", "Limiter", "RateLimiter", "SharedRateLimiter"]

logger = logging.getLogger(__name__)

WINDOW_S = 60.0


@dataclass
class Admission:
    """One admitted request's place in its tenant's token window (for `settle`)."""

    tenant: str
    at: float
    tokens: int
    row_id: int | None = None  # its row in the shared window (SharedRateLimiter)


class _Window:
    """A tenant's admissions of the last minute, oldest first."""

    def __init__(self) -> None:
        self.admissions: deque[Admission] = deque()

    def expire(self, now: float) -> None:
        while self.admissions and self.admissions[0].at <= now - WINDOW_S:
            self.admissions.popleft()


class Limiter:
    """What the tenancy service needs of a rate limiter."""

    def admit(self, tenant: str, limits: Limits, tokens: int) -> Admission:
        """Count the request, or raise `RateLimited` (429) saying which limit and when to retry."""
        raise NotImplementedError

    def settle(self, admission: Admission, tokens: int) -> None:
        """Replace the admission's estimate with the tokens the request really used."""
        raise NotImplementedError


class RateLimiter(Limiter):
    """The window in this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def admit(self, tenant: str, limits: Limits, tokens: int) -> Admission:
        """Count the request, or raise `RateLimited` (429) saying which limit and when to retry."""
        now = self._clock()
        with self._lock:
            window = self._windows.setdefault(tenant, _Window())
            window.expire(now)
            refusal = _over_limit(tenant, limits, tokens, [(a.at, a.tokens) for a in window.admissions], now)
            if refusal is not None:
                raise refusal
            admission = Admission(tenant, now, tokens)
            window.admissions.append(admission)
            return admission

    def settle(self, admission: Admission, tokens: int) -> None:
        """Replace the admission's estimate with the tokens the request really used."""
        with self._lock:
            admission.tokens = tokens


def _over_limit(tenant: str, limits: Limits, tokens: int, window: Sequence[tuple[float, int]],
                now: float) -> RateLimited | None:
    """The 429 for a request of `tokens` given the (time, tokens) admissions of the last minute."""
    rpm, tpm = limits.requests_per_minute, limits.tokens_per_minute
    if rpm is not None and len(window) >= rpm:
        wait = window[-rpm][0] + WINDOW_S - now
        return RateLimited(f"tenant {tenant!r} is over its limit of {rpm} requests per minute; "
                           f"retry in {math.ceil(wait)} s", retry_after_s=wait)
    if tpm is None:
        return None
    if tokens > tpm:
        return RateLimited(f"the request needs about {tokens} tokens, more than tenant {tenant!r}'s limit "
                           f"of {tpm} tokens per minute", retry_after_s=WINDOW_S)
    used = sum(t for _, t in window)
    if used + tokens <= tpm:
        return None
    freed, wait = 0, WINDOW_S
    for at, spent in window:
        freed += spent
        if freed >= used + tokens - tpm:
            wait = max(at + WINDOW_S - now, 0.0)
            break
    return RateLimited(f"tenant {tenant!r} is over its limit of {tpm} tokens per minute ({used} used in "
                       f"the last minute); retry in {math.ceil(wait)} s", retry_after_s=wait)


_US = 1_000_000


class SharedRateLimiter(Limiter):
    """The window in the shared database (table `rate_window`): one limit for every router."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time,
                 fallback: RateLimiter | None = None) -> None:
        self._db = db
        self._clock = clock
        self._fallback = fallback or RateLimiter(clock)
        self._errors = db.unavailable_errors()
        self._degraded = False

    def admit(self, tenant: str, limits: Limits, tokens: int) -> Admission:
        now = self._clock()
        if limits.requests_per_minute is None and limits.tokens_per_minute is None:
            return Admission(tenant, now, tokens)  # nothing to count
        try:
            refusal, row_id = self._admit(tenant, limits, tokens, now)
        except self._errors as exc:
            self._degrade(exc)
            return self._fallback.admit(tenant, limits, tokens)
        self._recover()
        if refusal is not None:
            raise refusal
        return Admission(tenant, now, tokens, row_id)

    def settle(self, admission: Admission, tokens: int) -> None:
        if admission.row_id is None:
            self._fallback.settle(admission, tokens)
            return
        admission.tokens = tokens
        try:
            with self._db.write() as cur:
                cur.execute("UPDATE rate_window SET tokens = ? WHERE id = ?", (tokens, admission.row_id))
        except self._errors as exc:
            self._degrade(exc)

    def _admit(self, tenant: str, limits: Limits, tokens: int, now: float
               ) -> tuple[RateLimited | None, int | None]:
        with self._db.write() as cur:
            self._lock_tenant(cur, tenant)
            cur.execute("DELETE FROM rate_window WHERE tenant = ? AND at_us <= ?",
                        (tenant, int((now - WINDOW_S) * _US)))
            rows = cur.fetchall("SELECT at_us, tokens FROM rate_window WHERE tenant = ? ORDER BY at_us, id",
                                (tenant,))
            window = [(int(at) / _US, int(t)) for at, t in rows]
            refusal = _over_limit(tenant, limits, tokens, window, now)
            if refusal is not None:
                return refusal, None
            (row_id,), = cur.fetchall(
                "INSERT INTO rate_window (tenant, at_us, tokens) VALUES (?, ?, ?) RETURNING id",
                (tenant, int(now * _US), tokens))
            return None, int(row_id)

    def _lock_tenant(self, cur: Cursor, tenant: str) -> None:
        """Serialise admissions of one tenant across routers (SQLite's write lock already does)."""
        if self._db.kind == "postgresql":
            cur.fetchall("SELECT pg_advisory_xact_lock(hashtext(?))", ("stellwerk-rate:" + tenant,))

    def _degrade(self, exc: BaseException) -> None:
        if not self._degraded:
            logger.warning("rate limits: the database is unreachable (%s: %s); limits hold per router "
                           "until it answers again", type(exc).__name__, exc)
        self._degraded = True

    def _recover(self) -> None:
        if self._degraded:
            logger.info("rate limits: the database answers again; limits hold cluster-wide")
        self._degraded = False

