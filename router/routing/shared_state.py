"""Circuit breakers and spillover shared by every router on one database.

Each router keeps its breakers (`HealthTracker`) and spillover hysteresis (`SpilloverState`) in memory,
and routing reads only that: no database round trip per request. `SharedRoutingState` links them
across routers through the database they already share (table `routing_state`):

* a transition this router makes (a breaker opens or closes, a model starts or stops spilling) is
  queued by the trackers' listeners and written by a background task as soon as it wakes (one small
  upsert, newest wins);
* every `interval_s` the same task reads the table (one row per model and objective) and applies the
  transitions other routers made since it last looked.

So router B skips a model within about `interval_s` (plus a transaction) of router A opening its
breaker, and a half-open trial that succeeds on any router closes the breaker on all. Failure counts
below the threshold stay per router (sharing them would be a write per failed request). Failure
mode: while the database cannot be reached, each router keeps its own breakers and spillover (logged
once), and its queued transitions are written when the database answers again. Router clocks must
agree to well under the cooldown (NTP), since open-until times are wall-clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from router.routing.health import BreakerEvent, HealthTracker
from router.routing.spillover import SpillEvent, SpilloverState
from router.store.database import Database
from router.store.routing_state import RoutingStateRow, RoutingStateStore
from router.store.sync_health import SyncHealth

__all__ = ["DEFAULT_SYNC_INTERVAL_S", "WHILE_UNREACHABLE", "SharedRoutingState"]

logger = logging.getLogger(__name__)

DEFAULT_SYNC_INTERVAL_S = 1.0
_US = 1_000_000
# What routing does while the database cannot be reached (`/status`, README "Failure modes").
WHILE_UNREACHABLE = ("breakers and spillover hold per router (each router's own); this router's "
                     "transitions are written when the database answers again")


class SharedRoutingState:
    """Publishes this router's breaker and spillover transitions and applies everyone else's."""

    def __init__(self, db: Database, health: HealthTracker, spillover: SpilloverState, *,
                 interval_s: float = DEFAULT_SYNC_INTERVAL_S, origin: str | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        self._store = RoutingStateStore(db)
        self._errors = db.unavailable_errors()
        self._health = health
        self._spillover = spillover
        self._interval = interval_s
        self.origin = origin or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wall = wall
        self._pending: dict[tuple[str, str, str], RoutingStateRow] = {}
        self._seen: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        self._round = threading.Lock()  # one round at a time, and `stop` waits for the one running
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        # Whether the database answered the last round, and when one last worked (`/status`).
        self.sync_health = SyncHealth("routing_state", WHILE_UNREACHABLE, wall=wall)
        health.listen(self._breaker_changed)
        spillover.listen(self._spill_changed)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Sync in the running event loop: at once after a transition, and every `interval_s`."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="routing state sync")

    async def stop(self) -> None:
        """Stop the loop, after writing the transitions still queued (if the database answers)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # NOTE: cancelling the task does not stop a round already in its worker thread; waiting for it
        # here means no round runs on after `stop` (against a database its owner is about to close).
        await asyncio.to_thread(self._last_round)

    async def sync(self) -> None:
        """One round now: write queued transitions, then read and apply other routers' (in a thread)."""
        await asyncio.to_thread(self._sync)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.sync()
            except Exception:  # NOTE: a bug in one round must not end the sync for good
                logger.exception("routing state sync failed; trying again in %g s", self._interval)

    # -- this router's transitions ---------------------------------------------------------------

    def _breaker_changed(self, e: BreakerEvent) -> None:
        self._queue(RoutingStateRow("breaker", e.model, "", e.open, _us(e.at), _us(e.until), e.failures,
                                    e.error, self.origin, _us(e.at)))

    def _spill_changed(self, e: SpillEvent) -> None:
        self._queue(RoutingStateRow("spill", e.model, e.objective, e.spilling, _us(e.since), 0, 0, "",
                                    self.origin, _us(e.at)))

    def _queue(self, row: RoutingStateRow) -> None:
        with self._lock:
            self._pending[row.key] = row
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: `stop` writes the rest
                self._loop.call_soon_threadsafe(self._wake.set)

    # -- one round (in a worker thread) ----------------------------------------------------------

    def _last_round(self) -> None:
        with self._round:
            self._publish_pending()

    def _sync(self) -> None:
        with self._round:
            self._sync_round()

    def _sync_round(self) -> None:
        if not self._publish_pending():
            return
        try:
            rows = self._store.read()
        except self._errors as exc:
            self._degrade(exc)
            return
        self._recover()
        for row in rows:
            self._apply(row)

    def _publish_pending(self) -> bool:
        with self._lock:
            pending, self._pending = self._pending, {}
        try:
            self._store.publish(list(pending.values()))
        except self._errors as exc:
            with self._lock:  # keep them for the next round, unless a newer transition came meanwhile
                self._pending = {**pending, **self._pending}
            self._degrade(exc)
            return False
        return True

    def _apply(self, row: RoutingStateRow) -> None:
        """Another router's transition, once (rows are re-read every round)."""
        if row.origin == self.origin or row.updated_us <= self._seen.get(row.key, -1):
            return
        self._seen[row.key] = row.updated_us
        if row.kind == "breaker":
            if row.active and row.until_us / _US <= self._wall():
                return  # an open breaker whose cooldown is over: nothing to copy
            self._health.apply(BreakerEvent(row.model, row.active, row.updated_us / _US, row.until_us / _US,
                                            row.failures, row.detail))
            logger.info("routing state: %s's breaker %s by router %s", row.model,
                        f"opened ({row.detail})" if row.active else "closed", row.origin)
        elif row.kind == "spill":
            self._spillover.apply(SpillEvent(row.model, row.objective, row.active, row.updated_us / _US,
                                             row.since_us / _US))

    def _degrade(self, exc: BaseException) -> None:
        if self.sync_health.failed(exc):
            logger.warning("routing state: the database is unreachable (%s: %s); breakers and spillover "
                           "hold per router until it answers again", type(exc).__name__, exc)

    def _recover(self) -> None:
        if self.sync_health.succeeded():
            logger.info("routing state: the database answers again; breakers and spillover are shared")


def _us(seconds: float) -> int:
    return int(seconds * _US)
