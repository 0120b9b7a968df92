"""A router process over fake engines and fake GPUs, for the observability tests (Prometheus, console,
traces):

    STELLWERK_ADMIN_KEY=... python -m tests.observability_server --port P --database URL --tenants FILE \
        [--otel-endpoint URL]

The fleet: `gemma-3-270m` (local) fails before its first byte, so `auto` falls back and its breaker
opens; `llama-3.1-8b-instruct` (local, GPU) reports a long queue, so it spills over;
`openai/gpt-4o-mini` and `anthropic/claude-3.5-haiku` (fakes of the remote engines) answer. Two fake
GPUs report through the real `NvmlReader`. Everything else — tenancy, routing, the ledger, metrics,
tracing, the console — is the real router.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from cluster.gpu import NvmlReader
from cluster.telemetry import TelemetrySampler
from router.hot_reload import ConfigHolder
from router.store import Database
from router.tenancy.config import load_tenants_config
from router.tenancy.service import TenancyService
from serving.errors import EngineFailed
from tests.fake_nvml import GIB, FakeDevice, FakeNvml
from tests.fakes import FakeChatEngine, build_fake_app

FAILING = "gemma-3-270m"
OVERLOADED = "llama-3.1-8b-instruct"
REMOTES = ("openai/gpt-4o-mini", "anthropic/claude-3.5-haiku")


def fleet() -> list[FakeChatEngine]:
    return [FakeChatEngine(FAILING, error=EngineFailed("scripted failure before the first byte"),
                           kv_cache_usage=0.1),
            FakeChatEngine(OVERLOADED, delay_s=0.002, waiting=40, replicas=2, kv_cache_usage=0.93),
            *(FakeChatEngine(m, delay_s=0.002) for m in REMOTES)]


def gpus() -> NvmlReader:
    return NvmlReader(FakeNvml([FakeDevice(b"NVIDIA H100 80GB HBM3", 87, 61 * GIB, 80 * GIB, 412_000, 64),
                                FakeDevice(b"NVIDIA H100 80GB HBM3", 74, 58 * GIB, 80 * GIB, 388_000, 61)]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--tenants", type=Path, required=True)
    parser.add_argument("--otel-endpoint", default=None)
    args = parser.parse_args()
    db = Database.open(args.database, default_path=Path("unused.db"))
    tenancy = TenancyService(ConfigHolder(args.tenants, load_tenants_config), db)
    chat = fleet()
    sampler = TelemetrySampler({e.model_id: e for e in chat}, gpus().read, interval_s=0.5)
    extra = {}
    if args.otel_endpoint:
        from router.tracing import Tracing

        extra["tracing"] = Tracing.to_otlp(args.otel_endpoint)
    fake = build_fake_app(chat, tenancy=tenancy, telemetry=sampler,
                        admin_key=os.environ["STELLWERK_ADMIN_KEY"], **extra)
    uvicorn.run(fake.app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
