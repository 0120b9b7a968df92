"""Which models to skip because they keep failing: a small circuit breaker per model.

A model that fails `failure_threshold` times in a row before its first byte (engine down, provider
errors, timeouts) is skipped by `auto` routing for `cooldown_s`; after that one request may try it
again (half-open), and a success closes the breaker. Requests that name the model still go to it.

With several routers, each breaker's transitions (opened, closed) go to `listeners` as `BreakerEvent`s
and events from other routers come in through `apply` (see `router.routing.shared_state`): one router's
open breaker is open on every router, and a half-open trial that succeeds anywhere closes it everywhere.
Event times are wall-clock (Unix) seconds, since they cross processes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BreakerEvent", "HealthTracker"]


@dataclass(frozen=True)
class BreakerEvent:
    """A breaker opened (until `until`, a Unix time) or closed, at Unix time `at`."""

    model: str
    open: bool
    at: float
    until: float = 0.0
    failures: int = 0
    error: str = ""  # the last error's code (never a message: no prompt text crosses routers)


@dataclass
class _Breaker:
    failures: int = 0
    open_until: float = 0.0
    last_error: str = ""


class HealthTracker:
    def __init__(self, failure_threshold: int, cooldown_s: float,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self._threshold = failure_threshold
        self._cooldown = cooldown_s
        self._clock = clock
        self._wall = wall
        self._breakers: dict[str, _Breaker] = {}
        self._listeners: list[Callable[[BreakerEvent], None]] = []
        self._lock = threading.Lock()

    def configure(self, failure_threshold: int, cooldown_s: float) -> None:
        with self._lock:
            self._threshold, self._cooldown = failure_threshold, cooldown_s

    def listen(self, listener: Callable[[BreakerEvent], None]) -> None:
        """Tell `listener` of every transition of this router's breakers (not of applied ones)."""
        self._listeners.append(listener)

    def unhealthy_reason(self, model_id: str) -> str | None:
        """Why `auto` should skip the model now, or None."""
        with self._lock:
            b = self._breakers.get(model_id)
            if b is None or b.failures < self._threshold:
                return None
            left = b.open_until - self._clock()
            if left <= 0:
                return None  # half-open: let a request try it
            return f"{b.failures} failures in a row ({b.last_error}); retried in {left:.0f} s"

    def failed(self, model_id: str, error: str) -> None:
        event = None
        with self._lock:
            b = self._breakers.setdefault(model_id, _Breaker())
            b.failures += 1
            b.last_error = error
            if b.failures >= self._threshold:  # opens, or opens again after a failed half-open trial
                b.open_until = self._clock() + self._cooldown
                now = self._wall()
                event = BreakerEvent(model_id, True, now, now + self._cooldown, b.failures, error)
        self._tell(event)

    def succeeded(self, model_id: str) -> None:
        with self._lock:
            b = self._breakers.pop(model_id, None)
            opened = b is not None and b.failures >= self._threshold
        self._tell(BreakerEvent(model_id, False, self._wall()) if opened else None)

    def apply(self, event: BreakerEvent) -> None:
        """Another router's transition: open this router's breaker until the same time, or close it."""
        with self._lock:
            if not event.open:
                self._breakers.pop(event.model, None)
                return
            left = event.until - self._wall()
            self._breakers[event.model] = _Breaker(max(event.failures, self._threshold),
                                                   self._clock() + left, event.error)

    def _tell(self, event: BreakerEvent | None) -> None:
        if event is not None:
            for listener in self._listeners:
                listener(event)
