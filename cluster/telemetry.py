"""Live load of the cluster — every chat engine's queue and every GPU — sampled off the request path.

A `TelemetrySampler` runs as one asyncio task (started in the router's lifespan): every `interval_s`
it reads each chat engine's `stats()` and the GPUs, and keeps the result as an immutable
`TelemetrySnapshot`. Readers (`/status`, the Prometheus gauges, and the routing decision to come)
take `latest` at once and never wait on an engine. An engine whose stats cannot be read is marked
unknown in the snapshot, with the reason; the sampler keeps going.

While the cluster is idle (every engine read, nothing running or waiting, no GPU busy) the sampler
backs off, doubling its interval up to `idle_interval_s`: an idle stack costs a Ray call per engine
every few seconds otherwise. Demand brings it back at once: the routing reads `current()`, which wakes
a backed-off sampler for an immediate sample and the normal interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cluster.gpu import GpuReading
from serving.engine import ChatEngine, EngineStats
from serving.errors import StellwerkError

__all__ = ["DEFAULT_IDLE_INTERVAL_S", "DEFAULT_INTERVAL_S", "GpuSource", "TelemetrySampler",
           "TelemetrySnapshot"]

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 2.0
DEFAULT_IDLE_INTERVAL_S = 30.0  # the longest interval while idle (backing off from `interval_s`)

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

    @property
    def idle(self) -> bool:
        """Whether this sample saw nothing to do: every engine read (and at least one), none running
        or waiting, no GPU busy."""
        return (bool(self.engines) and not self.errors
                and all(s is not None and s.running == 0 and s.waiting == 0 for s in self.engines.values())
                and all(g.utilization_pct == 0 for g in self.gpus))

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
    """Samples `engines` and `read_gpus` every `interval_s` in a background task (backing off to at
    most `idle_interval_s` while idle); `latest` is the newest snapshot, and each new one is passed to
    the listeners given to `start`."""

    def __init__(self, engines: Mapping[str, ChatEngine], read_gpus: GpuSource = _no_gpus, *,
                 interval_s: float = DEFAULT_INTERVAL_S, timeout_s: float | None = None,
                 idle_interval_s: float = DEFAULT_IDLE_INTERVAL_S,
                 clock: Callable[[], float] = time.time) -> None:
        if interval_s <= 0:
            raise ValueError(f"the telemetry interval must be positive, not {interval_s}")
        self._interval = interval_s
        self._idle_interval = max(interval_s, idle_interval_s)
        self._next_interval = interval_s
        self._wake = asyncio.Event()
        self._demanded = False
        self._engines = dict(engines)
        self._read_gpus = read_gpus
        self._timeout = timeout_s if timeout_s is not None else max(interval_s, 1.0)
        self._clock = clock
        self._latest = TelemetrySnapshot()
        self._listeners: list[Callable[[TelemetrySnapshot], object]] = []
        self._failing: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def latest(self) -> TelemetrySnapshot:
        return self._latest

    @property
    def interval_s(self) -> float:
        """The wait before the next sample: `interval_s`, or longer while backing off."""
        return self._next_interval

    def current(self) -> TelemetrySnapshot:
        """`latest`, for a reader that is about to act on it (a routing decision): a backed-off
        sampler samples again at once and returns to its normal interval."""
        self._demanded = True
        if self._next_interval > self._interval:
            self._next_interval = self._interval
            self._wake.set()
        return self._latest

    def start(self, *listeners: Callable[[TelemetrySnapshot], object]) -> None:
        """Start sampling in the running event loop, telling `listeners` of every sample from now on."""
        self._listeners.extend(listeners)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="telemetry sample")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                snapshot = await self.sample()
            except Exception:  # NOTE: an unexpected failure of one sample must not end the loop
                logger.exception("telemetry sample failed; trying again in %g s", self._interval)
                self._next_interval = self._interval
            else:
                idle = snapshot.idle and not self._demanded  # no sample of traffic, no reader acting
                self._next_interval = (min(self._next_interval * 2, self._idle_interval) if idle
                                       else self._interval)
            self._demanded = False
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._next_interval):
                    await self._wake.wait()

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
