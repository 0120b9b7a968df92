"""The classifier runs on the routing service's own worker threads: never on the event loop, never on
the default executor (shared with database calls), at most FEATURE_WORKERS at once, with the caller's
context (trace) visible inside."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from pathlib import Path

from cluster.telemetry import TelemetrySnapshot
from models.catalogue import load_catalogue
from router.features.request_features import RequestFeatures
from router.hot_reload import ConfigHolder
from router.metrics import RouterMetrics
from router.routing.config import parse_routing_config
from router.routing.service import FEATURE_WORKERS, RoutingService
from router.schemas import ChatCompletionRequest
from tests.fakes import ScriptedFeatures, TableQuality

CONFIG = "default_objective: cheap\nobjectives:\n  cheap: {type: cheapest, quality_floor: 0.0}\n"
CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="none")


class SlowFeatures(ScriptedFeatures):
    """Records the thread, the concurrency and the caller's context of each `extract`."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()
        self.callers: set[str] = set()
        self.running = self.most = 0
        self._lock = threading.Lock()

    def extract(self, request: ChatCompletionRequest) -> RequestFeatures:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
            self.callers.add(CALLER.get())
        time.sleep(0.05)
        with self._lock:
            self.running -= 1
        return super().extract(request)


async def test_features_run_on_the_services_own_bounded_threads() -> None:
    features = SlowFeatures()
    entries = [m for m in load_catalogue().models if m.id == "gemma-3-270m"]
    holder = ConfigHolder.fixed(parse_routing_config(CONFIG, Path("t.yaml")), Path("t.yaml"))
    service = RoutingService(holder, features, TableQuality({"gemma-3-270m": 0.7}), lambda: entries,
                             TelemetrySnapshot, RouterMetrics())
    request = ChatCompletionRequest.model_validate({"model": "auto", "messages": [{"role": "user",
                                                                                  "content": "hi"}]})
    CALLER.set("request-42")
    loop_thread = threading.current_thread().name

    decisions = await asyncio.gather(*(service.decide(request, request_id=f"r{i}") for i in range(6)))
    service.close()

    assert len(decisions) == 6
    assert features.most == FEATURE_WORKERS  # bursts queue for the pool instead of oversubscribing
    assert loop_thread not in features.threads
    assert all(name.startswith("stellwerk-features") for name in features.threads), features.threads
    assert features.callers == {"request-42"}
