"""How many requests each model is serving right now: the engines' own numbers, or the router's.

The telemetry snapshot (`cluster.telemetry`) carries each local engine's running + waiting requests as
vLLM's scheduler reports them, read every couple of seconds. Between two samples, a burst of requests
sent by this router is not in it yet, so `queued` takes the larger of the snapshot's count and the
router's own in-flight count for the model. Requests from other routers or clients show up only in the
engine's numbers; the router's count only covers the seconds the snapshot has not caught up with.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from cluster.gpu import GpuReading
from cluster.telemetry import TelemetrySnapshot
from serving.engine import EngineStats

__all__ = ["LoadView"]


class LoadView:
    """Live queue depth per model: `started`/`finished` count the router's own requests."""

    def __init__(self, snapshot: Callable[[], TelemetrySnapshot]) -> None:
        self._snapshot = snapshot
        self._in_flight: Counter[str] = Counter()
        self._lock = threading.Lock()

    def started(self, model_id: str) -> int:
        """Count a request the router sends to `model_id`; returns the queue it found (before it)."""
        queued = self.queued(model_id)
        with self._lock:
            self._in_flight[model_id] += 1
        return queued

    def finished(self, model_id: str) -> None:
        with self._lock:
            self._in_flight[model_id] -= 1
            if self._in_flight[model_id] <= 0:
                del self._in_flight[model_id]

    def in_flight(self, model_id: str) -> int:
        with self._lock:
            return self._in_flight.get(model_id, 0)

    def queued(self, model_id: str) -> int:
        stats = self._snapshot().engine(model_id)
        engine = 0 if stats is None else stats.running + stats.waiting
        return max(engine, self.in_flight(model_id))

    def engine_stats(self, model_id: str) -> EngineStats | None:
        return self._snapshot().engine(model_id)

    def gpus(self) -> tuple[GpuReading, ...]:
        """The GPUs in the last sample (empty without NVML)."""
        return self._snapshot().gpus

    def engine_error(self, model_id: str) -> str | None:
        """Why the engine's stats could not be read in the last sample (e.g. still deploying)."""
        return self._snapshot().errors.get(model_id)
