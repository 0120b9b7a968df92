"""Open-loop load on the real `RoutingService.decide`: arrivals at a fixed rate, whatever the latency.

Latency is measured from each request's scheduled arrival to its decision, so queueing behind slow
decisions counts (a closed loop would hide it). CPU per decision is the worker thread's CPU time for
the feature extraction (`time.thread_time`) plus the whole process's CPU divided by the decisions.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from benchmarks.decision.machine import CpuWindow
from cluster.telemetry import TelemetrySampler, TelemetrySnapshot
from models.availability import Availability
from models.catalogue import load_catalogue
from router.features.extract import FeatureExtractor
from router.features.request_features import RequestFeatures
from router.metrics import RouterMetrics
from router.registry import ModelRegistry
from router.routing.build import default_routing
from router.routing.service import FeatureSource, RoutingService
from router.schemas import ChatCompletionRequest
from serving.engine import ChatChunk, ChatEngine, EngineStats
from serving.errors import EngineUnavailable

__all__ = ["PhaseResult", "TimedFeatures", "build_service", "run_phase", "scripted_telemetry"]


class TimedFeatures:
    """A `FeatureSource` that records the CPU time of each `extract` (it runs in a worker thread)."""

    def __init__(self, inner: FeatureSource) -> None:
        self._inner = inner
        self.cpu_s: list[float] = []

    def extract(self, request: ChatCompletionRequest) -> RequestFeatures:
        started = time.thread_time()
        try:
            return self._inner.extract(request)
        finally:
            self.cpu_s.append(time.thread_time() - started)


def scripted_telemetry(seed: int = 0) -> Callable[[], TelemetrySnapshot]:
    """Local chat models' queues that change every second (0-4 running, 0-3 waiting), deterministic."""
    local = [m.id for m in load_catalogue().models if m.is_local and m.task == "chat"]
    # One snapshot per second, built once: the router's sampler also hands out a stored snapshot
    # (`TelemetrySampler.latest`), so building one per read would bill the decision for the benchmark.
    current: list[TelemetrySnapshot] = []

    def snapshot() -> TelemetrySnapshot:
        second = int(time.monotonic())
        if not current or current[0].taken_at != float(second):
            rng = random.Random(seed * 1_000_003 + second)
            current[:] = [TelemetrySnapshot(float(second), {
                m: EngineStats(rng.randint(0, 4), rng.randint(0, 3), 1) for m in local})]
        return current[0]

    return snapshot


class _Telemetry:
    """What the routing factory reads of a `TelemetrySampler` (`latest`, `current`, `sample`), scripted."""

    def __init__(self, snapshot: Callable[[], TelemetrySnapshot]) -> None:
        self._snapshot = snapshot

    @property
    def latest(self) -> TelemetrySnapshot:
        return self._snapshot()

    def current(self) -> TelemetrySnapshot:  # what a routing decision reads
        return self._snapshot()

    async def sample(self) -> TelemetrySnapshot:  # what a scale-up wait reads (never, in this benchmark)
        return self._snapshot()


class _UnusedEngine:
    """A chat engine for the registry: deciding never calls an engine, so every call is an error."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def chat(self, request: Mapping[str, Any]) -> AsyncIterator[ChatChunk]:
        raise EngineUnavailable("the decision benchmark has no engines")

    async def check_health(self) -> None:
        raise EngineUnavailable("the decision benchmark has no engines")

    async def stats(self) -> EngineStats:
        raise EngineUnavailable("the decision benchmark has no engines")


def build_service(features: FeatureSource,
                  snapshot: Callable[[], TelemetrySnapshot] | None = None,
                  classifier: str | None = None) -> RoutingService:
    """The RoutingService `router.routing.build.default_routing` assembles (shipped configuration,
    quality and catalogue), with every chat model of the catalogue available (as with all API keys
    and GPUs present); telemetry `scripted_telemetry()` unless `snapshot` is given. `classifier` names
    the request classifier `features` is (its quality model's abilities are on its scale)."""
    chat = [m for m in load_catalogue().models if m.task == "chat"]
    engines: dict[str, ChatEngine] = {m.id: _UnusedEngine(m.id) for m in chat}
    registry = ModelRegistry([Availability(m, True) for m in chat], engines, {})
    build = default_routing(registry, features=features, classifier=classifier)
    telemetry = _Telemetry(snapshot or scripted_telemetry())
    return build(cast(TelemetrySampler, telemetry), RouterMetrics())


@dataclass
class PhaseResult:
    embedder: str
    rate: float
    latencies_s: list[float] = field(default_factory=list)
    extract_cpu_s: list[float] = field(default_factory=list)
    cpu: CpuWindow = field(default_factory=CpuWindow)
    chosen: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        lat = np.array(self.latencies_s) * 1e3
        cpu = np.array(self.extract_cpu_s) * 1e3
        n = len(self.latencies_s)
        return {
            "embedder": self.embedder, "rate_per_s": self.rate, "decisions": n,
            "latency_ms": _percentiles(lat), "extract_cpu_ms": _percentiles(cpu),
            "process_cpu_ms_per_decision": round(self.cpu.own_cpu_s * 1e3 / max(n, 1), 2),
            "cpu": self.cpu.to_json(), "chosen": dict(sorted(self.chosen.items())),
        }


def _percentiles(values: np.ndarray[Any, Any]) -> dict[str, float]:
    if not len(values):
        return {}
    stats = {f"p{q}": float(np.percentile(values, q)) for q in (50, 90, 99)}
    stats.update(max=float(values.max()), mean=float(values.mean()))
    return {k: round(v, 2) for k, v in stats.items()}


async def run_phase(name: str, extractor: FeatureExtractor, requests: Sequence[ChatCompletionRequest], *,
                    rate: float, duration_s: float, seed: int = 0, warmup: int = 20,
                    classifier: str | None = None) -> PhaseResult:
    """Poisson arrivals at `rate` per second for `duration_s`, cycling through `requests`."""
    timed = TimedFeatures(extractor)
    service = build_service(timed, classifier=classifier)
    for i in range(warmup):
        await service.decide(requests[i % len(requests)], None, request_id=f"warm-{i}", dry_run=True)
    timed.cpu_s.clear()
    result = PhaseResult(name, rate)
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    pending: list[asyncio.Task[None]] = []

    async def one(i: int, scheduled: float) -> None:
        decision = await service.decide(requests[i % len(requests)], None, request_id=f"{name}-{i}")
        result.latencies_s.append(loop.time() - scheduled)
        result.chosen[decision.chosen.id] = result.chosen.get(decision.chosen.id, 0) + 1

    result.cpu.start()
    start = loop.time()
    arrival, i = start, 0
    while arrival - start < duration_s:
        await asyncio.sleep(max(0.0, arrival - loop.time()))
        pending.append(asyncio.create_task(one(i, arrival)))
        i += 1
        arrival += rng.expovariate(rate)
    await asyncio.gather(*pending)
    result.cpu.stop(loop.time() - start)
    result.extract_cpu_s = list(timed.cpu_s)
    service.close()
    return result
