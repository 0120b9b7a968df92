"""Which models to skip because they keep failing: a small circuit breaker per model.

A model that fails `failure_threshold` times in a row before its first byte (engine down, provider
errors, timeouts) is skipped by `auto` routing for `cooldown_s`; after that one request may try it
again (half-open), and a success closes the breaker. Requests that name the model still go to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HealthTracker"]


@dataclass
class _Breaker:
    failures: int = 0
    open_until: float = 0.0
    last_error: str = ""


class HealthTracker:
    def __init__(self, failure_threshold: int, cooldown_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold = failure_threshold
        self._cooldown = cooldown_s
        self._clock = clock
        self._breakers: dict[str, _Breaker] = {}
        self._lock = threading.Lock()

    def configure(self, failure_threshold: int, cooldown_s: float) -> None:
        with self._lock:
            self._threshold, self._cooldown = failure_threshold, cooldown_s

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
        with self._lock:
            b = self._breakers.setdefault(model_id, _Breaker())
            b.failures += 1
            b.last_error = error
            if b.failures >= self._threshold:
                b.open_until = self._clock() + self._cooldown

    def succeeded(self, model_id: str) -> None:
        with self._lock:
            self._breakers.pop(model_id, None)
