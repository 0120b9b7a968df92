"""Spillover with hysteresis: when a local model counts as overloaded, and when it comes back.

A local model starts spilling when its predicted TTFT exceeds the objective's target. It stops only when
the prediction falls below `target * return_ratio` and the spill has lasted `min_dwell_s`. Between the
two thresholds it keeps its current state, so a queue hovering around the target does not flip the
route on every request. State is kept per (model, objective), since objectives have different targets.

With several routers, each transition (starts spilling, returns) goes to `listeners` as a `SpillEvent`
and other routers' transitions come in through `apply` (see `router.routing.shared_state`), so the
cluster spills and returns together; event times are wall-clock (Unix) seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from router.routing.config import SpilloverConfig

__all__ = ["SpillEvent", "SpilloverState"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpillEvent:
    """A (model, objective) started spilling at Unix time `since`, or returned to local at `at`."""

    model: str
    objective: str
    spilling: bool
    at: float
    since: float = 0.0


@dataclass
class _Spill:
    since: float


class SpilloverState:
    def __init__(self, config: SpilloverConfig, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._config = config
        self._clock = clock
        self._wall = wall
        self._spilling: dict[tuple[str, str], _Spill] = {}
        self._listeners: list[Callable[[SpillEvent], None]] = []
        self._lock = threading.Lock()

    def listen(self, listener: Callable[[SpillEvent], None]) -> None:
        """Tell `listener` of every transition this router makes (not of applied ones)."""
        self._listeners.append(listener)

    def apply(self, event: SpillEvent) -> None:
        """Another router's transition: spill since the same moment, or return."""
        key = (event.model, event.objective)
        with self._lock:
            if event.spilling:
                self._spilling[key] = _Spill(self._clock() - max(self._wall() - event.since, 0.0))
            else:
                self._spilling.pop(key, None)

    def configure(self, config: SpilloverConfig) -> None:
        with self._lock:
            self._config = config

    def overloaded(self, model_id: str, objective: str, predicted_s: float, target_s: float, *,
                   commit: bool = True) -> bool:
        """Whether the model should be skipped for load now; `commit=False` (a dry run) answers the
        same without changing the state."""
        with self._lock:
            spilling, event = self._step((model_id, objective), predicted_s, target_s, commit)
        if event is not None:
            for listener in self._listeners:  # outside the lock: a listener may take its own
                listener(event)
        return spilling

    def _step(self, key: tuple[str, str], predicted_s: float, target_s: float, commit: bool
              ) -> tuple[bool, SpillEvent | None]:
        """(spilling now, the transition made if any); call with the lock held."""
        (model_id, objective), now = key, self._clock()
        spill = self._spilling.get(key)
        if spill is None:
            if predicted_s <= target_s:
                return False, None
            if not commit:
                return True, None
            self._spilling[key] = _Spill(now)
            logger.info("spillover: %s leaves local for objective %s (predicted TTFT %.2f s > %.2f s)",
                        model_id, objective, predicted_s, target_s)
            wall = self._wall()
            return True, SpillEvent(model_id, objective, True, wall, wall)
        cfg = self._config
        if predicted_s >= target_s * cfg.return_ratio or now - spill.since < cfg.min_dwell_s:
            return True, None
        if not commit:
            return False, None
        del self._spilling[key]
        logger.info("spillover: %s returns to local for objective %s (predicted TTFT %.2f s)",
                    model_id, objective, predicted_s)
        return False, SpillEvent(model_id, objective, False, self._wall())

    def spilling(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(self._spilling)
