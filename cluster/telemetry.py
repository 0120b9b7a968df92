"""Live load of the cluster — every chat engine's queue and every GPU — sampled off the request path.

A `TelemetrySampler` runs as one asyncio task (started in the router's lifespan): every `interval_s`
it reads each chat engine's `stats()` and the GPUs, and keeps the result as an immutable
`TelemetrySnapshot`. Readers (`/status`, the Prometheus gauges, and the routing decision to come)
take `latest` at once and never wait on an engine. An engine whose stats cannot be read is marked
unknown in the snapshot, with the reason; the sampler keeps going.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cluster.gpu import GpuReading
from cluster.periodic import Periodic
from serving.engine import ChatEngine, EngineStats
from serving.errors import StellwerkError

__all__ = ["DEFAULT_INTERVAL_S", "GpuSource", "TelemetrySampler", "TelemetrySnapshot"]

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 2.0

GpuSource = Callable[[], list[GpuReading]]
"""Reads every GPU (e.g. `NvmlReader.read`); an empty list on a machine without GPUs."""


@dataclass(frozen=True)
class TelemetrySnapshot:
    """One sample of the cluster's load. `engines` maps each sampled chat model to its stats, or to
    None when they could not be read (`errors` says why); `taken_at` is a Unix time (0: no sample)."""

    taken_at: float = 0.0
    engines: Mapping[str, EngineStats | None] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    gpus: tuple[GpuReading, ...] = ()

    def engine(self, model_id: str) -> EngineStats | None:
        """The model's stats in this sample; None if unknown (not sampled, or unreadable)."""
        return self.engines.get(model_id)

    def to_json(self) -> dict[str, Any]:
        engines: dict[str, Any] = {}
        for model_id, stats in self.engines.items():
            if stats is None:
                engines[model_id] = {"error": self.errors.get(model_id, "unknown")}
            else:
                engines[model_id] = {"running": stats.running, "waiting": stats.waiting,
                                     "kv_cache_usage": stats.kv_cache_usage, "replicas": stats.replicas}
        return {"taken_at": self.taken_at or None, "engines": engines,
                "gpus": [dataclasses.asdict(g) for g in self.gpus]}


def _no_gpus() -> list[GpuReading]:
    return []


class TelemetrySampler:
    """Samples `engines` and `read_gpus` every `interval_s` in a background task; `latest` is the
    newest snapshot, and each new one is passed to the listeners given to `start`."""

    def __init__(self, engines: Mapping[str, ChatEngine], read_gpus: GpuSource = _no_gpus, *,
                 interval_s: float = DEFAULT_INTERVAL_S, timeout_s: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if interval_s <= 0:
            raise ValueError(f"the telemetry interval must be positive, not {interval_s}")
        self._engines = dict(engines)
        self._read_gpus = read_gpus
        self._timeout = timeout_s if timeout_s is not None else max(interval_s, 1.0)
        self._clock = clock
        self._latest = TelemetrySnapshot()
        self._listeners: list[Callable[[TelemetrySnapshot], object]] = []
        self._failing: dict[str, str] = {}
        self._loop = Periodic("telemetry sample", interval_s, self.sample)

    @property
    def latest(self) -> TelemetrySnapshot:
        return self._latest

    def start(self, *listeners: Callable[[TelemetrySnapshot], object]) -> None:
        """Start sampling in the running event loop, telling `listeners` of every sample from now on."""
        self._listeners.extend(listeners)
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def sample(self) -> TelemetrySnapshot:
        """Take one sample now, store it as `latest` and tell the listeners."""
        ids = list(self._engines)
        results, gpus = await asyncio.gather(
            asyncio.gather(*(self._read_engine(m) for m in ids)),
            asyncio.to_thread(self._read_gpus))
        engines = {m: r if isinstance(r, EngineStats) else None for m, r in zip(ids, results, strict=True)}
        errors = {m: r for m, r in zip(ids, results, strict=True) if isinstance(r, str)}
        self._latest = TelemetrySnapshot(self._clock(), engines, errors, tuple(gpus))
        for listener in self._listeners:
            listener(self._latest)
        return self._latest

    async def _read_engine(self, model_id: str) -> EngineStats | str:
        """The engine's stats, or why they are unknown (logged once per failure, not every sample)."""
        try:
            stats = await asyncio.wait_for(self._engines[model_id].stats(), timeout=self._timeout)
        except StellwerkError as exc:
            return self._failed(model_id, exc.message, log=False)  # e.g. still deploying
        except TimeoutError:
            return self._failed(model_id, f"stats timed out after {self._timeout:g} s", log=True)
        except Exception as exc:  # an engine's bug must not stop the sampler or hide the others
            return self._failed(model_id, f"stats failed ({type(exc).__name__}: {exc})", log=True)
        if self._failing.pop(model_id, None) is not None:
            logger.info("telemetry: stats of %s are readable again", model_id)
        return stats

    def _failed(self, model_id: str, reason: str, *, log: bool) -> str:
        if log and self._failing.get(model_id) != reason:
            logger.warning("telemetry: cannot read the stats of %s: %s", model_id, reason)
        self._failing[model_id] = reason
        return reason
