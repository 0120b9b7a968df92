"""Device check (run on a GPU machine): real NVML readings drive the routing decision's GPU signal.

Reads the GPUs idle, then under a torch matmul loop, and feeds each reading (with a scripted engine queue
of 2 running + 1 waiting for a local GPU model) to the real routing service: idle GPUs keep the local
model, saturated ones spill it. Prints JSON lines. Needs torch + nvidia-ml-py (+ the project's pure-Python
dependencies for the routing part: pydantic, pyyaml, prometheus-client, fastapi); no vLLM or Ray.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from typing import Any

from cluster.gpu import GpuReading, NvmlReader
from router.features.request_features import RequestFeatures, structural_features
from router.schemas import ChatCompletionRequest

LLAMA = "llama-3.1-8b-instruct"


def _load(stop: threading.Event) -> None:
    import torch

    a = torch.randn(8192, 8192, device="cuda")
    while not stop.is_set():
        (a @ a).sum().item()


class _ChatFeatures:
    """The request's shape, read for real; a fixed task category (no embedding model on the device)."""

    def extract(self, request: ChatCompletionRequest) -> RequestFeatures:
        shape = structural_features(request)
        return RequestFeatures(**dataclasses.asdict(shape), language="en", category="chit_chat",
                               category_confidence=1.0, p_weak_ok=None)


async def _decide(gpus: list[GpuReading]) -> dict[str, Any]:
    from cluster.telemetry import TelemetrySnapshot
    from models.catalogue import load_catalogue
    from models.quality import QualityTable
    from router.hot_reload import ConfigHolder
    from router.metrics import RouterMetrics
    from router.routing.config import DEFAULT_ROUTING_CONFIG_PATH, load_routing_config
    from router.routing.service import CategoryQuality, RoutingService
    from serving.engine import EngineStats

    catalogue = load_catalogue()
    entries = [catalogue.get(LLAMA), catalogue.get("openai/gpt-4o-mini")]
    queue = {LLAMA: EngineStats(running=2, waiting=1, replicas=1)}
    snapshot = TelemetrySnapshot(time.time(), queue, {}, tuple(gpus))
    holder = ConfigHolder(DEFAULT_ROUTING_CONFIG_PATH, load_routing_config)
    service = RoutingService(holder, _ChatFeatures(), CategoryQuality(QualityTable.load()),
                             lambda: [e for e in entries if e is not None], lambda: snapshot, RouterMetrics())
    request = ChatCompletionRequest.model_validate({"model": "auto", "messages": [{"role": "user",
                                                                                    "content": "hi"}]})
    decision = await service.decide(request, None, request_id="device", dry_run=True)
    llama = next(c for c in decision.to_json()["candidates"] if c["model"] == LLAMA)
    return {"chosen": decision.chosen.id, "reason": decision.reason, "llama_note": llama["note"]}


def _report(phase: str, readings: list[GpuReading]) -> None:
    """Print the readings and the routing decision they lead to (skipped without the router's deps)."""
    print(json.dumps({"phase": phase, "readings": [g.__dict__ for g in readings]}))
    try:
        print(json.dumps({"phase": phase, "decision": asyncio.run(_decide(readings))}))
    except ImportError as exc:
        print(json.dumps({"routing_skipped": str(exc)}))


def main() -> None:
    reader = NvmlReader()
    print(json.dumps({"gpus": reader.count()}))
    _report("idle", reader.read())
    stop = threading.Event()
    worker = threading.Thread(target=_load, args=(stop,), daemon=True)
    worker.start()
    time.sleep(3)  # let utilisation reach its plateau (NVML averages over its sample period)
    for _ in range(2):
        time.sleep(1)
        print(json.dumps({"phase": "loaded", "readings": [g.__dict__ for g in reader.read()]}))
    time.sleep(1)
    _report("loaded", reader.read())
    stop.set()
    worker.join(10)
    reader.close()


if __name__ == "__main__":
    main()
