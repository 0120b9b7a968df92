"""`cluster.telemetry` with fake engines and a fake NVML: snapshots, the sampling task, the gauges of
/metrics and /status."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cluster.gpu import NvmlReader
from cluster.telemetry import TelemetrySampler, TelemetrySnapshot
from serving.engine import EngineStats
from serving.errors import EngineUnavailable
from tests.fake_nvml import GIB, FakeDevice, FakeNvml
from tests.fakes import FakeApp, FakeChatEngine, asgi_client, build_fake_app, sample, scrape

GEMMA = "gemma-3-270m"
REMOTE = "openai/gpt-4o-mini"
H100 = FakeDevice(b"NVIDIA H100 80GB HBM3", util=87, used=40 * GIB, total=80 * GIB, power_mw=312_500,
                  temperature=61)
MIG = FakeDevice(b"MIG 1g.10gb", util=5, used=GIB, total=10 * GIB, power_mw=None, temperature=None)


def gpus(*devices: FakeDevice, init_fails: bool = False) -> NvmlReader:
    return NvmlReader(FakeNvml(devices=list(devices), init_fails=init_fails))


def stack_with(*engines: FakeChatEngine, reader: NvmlReader | None = None) -> FakeApp:
    telemetry = TelemetrySampler({e.model_id: e for e in engines}, (reader or gpus()).read,
                                 clock=lambda: 42.0)
    return build_fake_app(engines, telemetry=telemetry)


async def test_a_sample_holds_every_engines_queue_and_every_gpu() -> None:
    gemma = FakeChatEngine(GEMMA, waiting=3, replicas=2, kv_cache_usage=0.25)
    sampler = TelemetrySampler({GEMMA: gemma}, gpus(H100, MIG).read, clock=lambda: 42.0)
    gemma.active = 4

    snapshot = await sampler.sample()

    assert sampler.latest is snapshot
    assert snapshot.taken_at == 42.0
    assert snapshot.engine(GEMMA) == EngineStats(running=4, waiting=3, replicas=2, kv_cache_usage=0.25)
    assert snapshot.engine("not-sampled") is None
    assert [g.name for g in snapshot.gpus] == ["NVIDIA H100 80GB HBM3", "MIG 1g.10gb"]


async def test_before_the_first_sample_the_snapshot_is_empty() -> None:
    sampler = TelemetrySampler({GEMMA: FakeChatEngine(GEMMA)})

    assert sampler.latest == TelemetrySnapshot()
    assert sampler.latest.to_json() == {"taken_at": None, "engines": {}, "gpus": []}


@pytest.mark.parametrize("error", [RuntimeError("replica bug"), EngineUnavailable("still deploying")])
async def test_an_engine_whose_stats_fail_is_unknown_and_the_others_are_still_read(
        error: Exception) -> None:
    broken, fine = FakeChatEngine(GEMMA, stats_error=error), FakeChatEngine(REMOTE, waiting=1)
    sampler = TelemetrySampler({GEMMA: broken, REMOTE: fine})

    snapshot = await sampler.sample()

    assert snapshot.engine(GEMMA) is None
    assert str(error) in snapshot.errors[GEMMA]
    assert snapshot.engine(REMOTE) == EngineStats(running=0, waiting=1, replicas=1)
    assert snapshot.to_json()["engines"][GEMMA] == {"error": snapshot.errors[GEMMA]}


async def test_an_engine_that_hangs_times_out_without_holding_up_the_sample() -> None:
    class Hanging(FakeChatEngine):
        async def stats(self) -> EngineStats:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    sampler = TelemetrySampler({GEMMA: Hanging(GEMMA)}, interval_s=0.05, timeout_s=0.05)

    snapshot = await sampler.sample()

    assert snapshot.engine(GEMMA) is None
    assert "timed out" in snapshot.errors[GEMMA]


async def test_the_sampling_task_keeps_going_through_failures_and_tells_its_listeners(
        caplog: pytest.LogCaptureFixture) -> None:
    broken = FakeChatEngine(GEMMA, stats_error=RuntimeError("replica bug"))
    sampler = TelemetrySampler({GEMMA: broken}, interval_s=0.01)
    seen: asyncio.Queue[TelemetrySnapshot] = asyncio.Queue()

    with caplog.at_level(logging.WARNING, logger="cluster.telemetry"):
        sampler.start(seen.put_nowait)
        failed = [await asyncio.wait_for(seen.get(), timeout=5) for _ in range(3)]
        broken.stats_error = None
        recovered = await asyncio.wait_for(seen.get(), timeout=5)
        while recovered.engine(GEMMA) is None:  # a sample may have been under way
            recovered = await asyncio.wait_for(seen.get(), timeout=5)
        await sampler.stop()

    assert all(s.engine(GEMMA) is None for s in failed)
    assert recovered.engine(GEMMA) == EngineStats(running=0, waiting=0, replicas=1)
    failures = [r for r in caplog.records if "cannot read the stats" in r.getMessage()]
    assert len(failures) == 1  # logged once, not on every sample


async def _samples(sampler: TelemetrySampler, count: int) -> list[tuple[TelemetrySnapshot, float]]:
    """The next `count` samples of a started sampler, each with the interval it chose after it."""
    seen: asyncio.Queue[TelemetrySnapshot] = asyncio.Queue()
    sampler._listeners.append(seen.put_nowait)
    out = []
    for _ in range(count):
        snapshot = await asyncio.wait_for(seen.get(), timeout=5)
        await asyncio.sleep(0)  # let the loop choose its next interval
        out.append((snapshot, sampler.interval_s))
    return out


async def test_an_idle_cluster_is_sampled_less_and_less_often_up_to_the_idle_interval() -> None:
    sampler = TelemetrySampler({GEMMA: FakeChatEngine(GEMMA)}, interval_s=0.01, idle_interval_s=0.08)
    sampler.start()
    intervals = [interval for _, interval in await _samples(sampler, 5)]
    await sampler.stop()

    assert intervals == [0.02, 0.04, 0.08, 0.08, 0.08]


async def test_traffic_or_a_routing_read_brings_the_normal_interval_back_at_once() -> None:
    gemma = FakeChatEngine(GEMMA)
    sampler = TelemetrySampler({GEMMA: gemma}, interval_s=0.01, idle_interval_s=60)
    sampler.start()
    await _samples(sampler, 3)  # backed off to 0.08 s, and doubling
    backed_off = sampler.interval_s

    loop = asyncio.get_running_loop()
    asked = loop.time()
    sampler.current()  # a routing decision reads the snapshot
    [(_, after_read)] = await _samples(sampler, 1)
    woke_after = loop.time() - asked
    gemma.active = 2  # traffic the engine reports
    [(busy, after_busy)] = await _samples(sampler, 1)
    await sampler.stop()

    assert backed_off >= 0.08
    assert woke_after < backed_off  # sampled at once, not after the backed-off wait
    assert after_read == 0.01
    assert busy.engine(GEMMA) is not None and after_busy == 0.01


async def test_unknown_engines_or_busy_gpus_are_not_idle() -> None:
    broken = TelemetrySampler({GEMMA: FakeChatEngine(GEMMA, stats_error=RuntimeError("x"))})
    busy_gpu = TelemetrySampler({GEMMA: FakeChatEngine(GEMMA)}, gpus(H100).read)
    quiet = TelemetrySampler({GEMMA: FakeChatEngine(GEMMA)}, gpus().read)

    assert not (await broken.sample()).idle
    assert not (await busy_gpu.sample()).idle
    assert (await quiet.sample()).idle
    assert not TelemetrySnapshot().idle


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TelemetrySampler({}, interval_s=0)


# --- /metrics and /status --------------------------------------------------------------------------


async def test_the_lifespan_samples_into_the_gauges_of_metrics() -> None:
    gemma = FakeChatEngine(GEMMA, waiting=2, replicas=3, kv_cache_usage=0.5)
    fake = stack_with(gemma, reader=gpus(H100, MIG))
    gemma.active = 1

    async with fake.app.router.lifespan_context(fake.app), asgi_client(fake.app) as client:
        await fake.telemetry.sample()
        samples = await scrape(client)

    assert sample(samples, "stellwerk_engine_requests_running", model=GEMMA) == 1
    assert sample(samples, "stellwerk_engine_requests_waiting", model=GEMMA) == 2
    assert sample(samples, "stellwerk_engine_kv_cache_usage", model=GEMMA) == 0.5
    assert sample(samples, "stellwerk_engine_replicas", model=GEMMA) == 3
    assert sample(samples, "stellwerk_gpu_utilization_percent", gpu="0") == 87
    assert sample(samples, "stellwerk_gpu_memory_used_bytes", gpu="0") == 40 * GIB
    assert sample(samples, "stellwerk_gpu_memory_total_bytes", gpu="1") == 10 * GIB
    assert sample(samples, "stellwerk_gpu_power_watts", gpu="0") == 312.5
    assert sample(samples, "stellwerk_gpu_temperature_celsius", gpu="0") == 61
    # The MIG slice reports neither power nor temperature: no series rather than a made-up 0.
    assert ("stellwerk_gpu_power_watts", frozenset({("gpu", "1")})) not in samples
    assert ("stellwerk_gpu_temperature_celsius", frozenset({("gpu", "1")})) not in samples


async def test_a_machine_without_gpus_exports_no_gpu_gauges() -> None:
    fake = stack_with(FakeChatEngine(GEMMA), reader=gpus(H100, init_fails=True))

    async with fake.app.router.lifespan_context(fake.app), asgi_client(fake.app) as client:
        await fake.telemetry.sample()
        samples = await scrape(client)

    assert not [name for name, _ in samples if name.startswith("stellwerk_gpu_")]
    assert sample(samples, "stellwerk_engine_replicas", model=GEMMA) == 1


async def test_an_engine_that_becomes_unknown_loses_its_series_instead_of_keeping_stale_values() -> None:
    gemma = FakeChatEngine(GEMMA, waiting=5, kv_cache_usage=0.9)
    fake = stack_with(gemma)

    async with fake.app.router.lifespan_context(fake.app), asgi_client(fake.app) as client:
        await fake.telemetry.sample()
        before = await scrape(client)
        gemma.stats_error = RuntimeError("replica bug")
        await fake.telemetry.sample()
        after = await scrape(client)

    assert sample(before, "stellwerk_engine_requests_waiting", model=GEMMA) == 5
    assert not [name for name, _ in after if name.startswith("stellwerk_engine_")]


async def test_status_shows_the_snapshot_without_reading_the_engines() -> None:
    gemma = FakeChatEngine(GEMMA, waiting=2, replicas=1, kv_cache_usage=0.125)
    fake = stack_with(gemma, reader=gpus(H100))
    await fake.telemetry.sample()
    gemma.stats_error = AssertionError("/status must not call stats()")

    async with asgi_client(fake.app) as client:
        body = (await client.get("/status")).json()

    assert body["taken_at"] == 42.0
    assert body["engines"] == {GEMMA: {"running": 0, "waiting": 2, "kv_cache_usage": 0.125, "replicas": 1}}
    assert body["gpus"] == [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "utilization_pct": 87.0,
                             "memory_used_bytes": 40 * GIB, "memory_total_bytes": 80 * GIB,
                             "power_watts": 312.5, "temperature_c": 61.0}]

