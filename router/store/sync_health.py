"""Whether a router's cluster-wide state reaches the shared database, for `/status` and `/metrics`.

Rate limits, circuit breakers and spillover are shared between routers through the database
(`rate_window`, `routing_state`). Each keeper records here whether its last exchange with the database
succeeded and when one last did; while the database cannot be reached the router keeps working on
its own state — `while_unreachable` says how — so an operator sees the degraded mode only here, in
`/metrics`, and in one log line per outage.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["SyncHealth", "shared_state_report"]


class SyncHealth:
    """The database reachability of one piece of shared state, as its keeper last saw it."""

    def __init__(self, name: str, while_unreachable: str, wall: Callable[[], float] = time.time) -> None:
        self.name = name
        self.while_unreachable = while_unreachable
        self._wall = wall
        self._lock = threading.Lock()
        self._reachable: bool | None = None  # None: not exchanged with the database yet
        self._last_ok: float | None = None
        self._last_error: str | None = None

    def succeeded(self) -> bool:
        """Record an exchange that worked; True if the database had been unreachable until now."""
        with self._lock:
            recovered = self._reachable is False
            self._reachable, self._last_ok = True, self._wall()
        return recovered

    def failed(self, exc: BaseException) -> bool:
        """Record an exchange that failed; True if this starts an outage (the first failure)."""
        with self._lock:
            starts = self._reachable is not False
            self._reachable, self._last_error = False, f"{type(exc).__name__}: {exc}"
        return starts

    @property
    def reachable(self) -> bool | None:
        return self._reachable

    def last_sync_age_s(self) -> float | None:
        """Seconds since the last exchange that worked (None: none yet)."""
        last = self._last_ok
        return None if last is None else max(0.0, self._wall() - last)

    def report(self) -> dict[str, Any]:
        with self._lock:
            reachable, error = self._reachable, self._last_error
        age = self.last_sync_age_s()
        return {"reachable": reachable,
                "last_sync_age_s": None if age is None else round(age, 3),
                "last_error": error if reachable is False else None,
                "while_unreachable": self.while_unreachable}


def shared_state_report(healths: Iterable[SyncHealth]) -> dict[str, Any]:
    """`/status`'s `shared_state`: `reachable` overall (False if any part fails, None before any
    exchange) and each part's report by name."""
    parts = {h.name: h.report() for h in healths}
    states = [p["reachable"] for p in parts.values()]
    overall = False if False in states else (True if True in states else None)
    return {"reachable": overall, **parts}
