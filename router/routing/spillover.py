"""Spillover with hysteresis: when a local model counts as overloaded, and when it comes back.

A local model starts spilling when its predicted TTFT exceeds the objective's target. It stops only when
the prediction falls below `target * return_ratio` and the spill has lasted `min_dwell_s`. Between the
two thresholds it keeps its current state, so a queue hovering around the target does not flip the
route on every request. State is kept per (model, objective), since objectives have different targets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from router.routing.config import SpilloverConfig

__all__ = ["SpilloverState"]

logger = logging.getLogger(__name__)


@dataclass
class _Spill:
    since: float


class SpilloverState:
    def __init__(self, config: SpilloverConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._spilling: dict[tuple[str, str], _Spill] = {}
        self._lock = threading.Lock()

    def configure(self, config: SpilloverConfig) -> None:
        with self._lock:
            self._config = config

    def overloaded(self, model_id: str, objective: str, predicted_s: float, target_s: float, *,
                   commit: bool = True) -> bool:
        """Whether the model should be skipped for load now; `commit=False` (a dry run) answers the
        same without changing the state."""
        key = (model_id, objective)
        now = self._clock()
        with self._lock:
            spill = self._spilling.get(key)
            if spill is None:
                if predicted_s > target_s:
                    if not commit:
                        return True
                    self._spilling[key] = _Spill(now)
                    logger.info("spillover: %s leaves local for objective %s (predicted TTFT %.2f s "
                                "> %.2f s)", model_id, objective, predicted_s, target_s)
                    return True
                return False
            cfg = self._config
            if predicted_s < target_s * cfg.return_ratio and now - spill.since >= cfg.min_dwell_s:
                if not commit:
                    return False
                del self._spilling[key]
                logger.info("spillover: %s returns to local for objective %s (predicted TTFT %.2f s)",
                            model_id, objective, predicted_s)
                return False
            return True

    def spilling(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(self._spilling)
