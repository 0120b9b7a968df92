"""A local pool without a ready replica (scaled to zero, or starting) is "not ready" for `auto`: its
traffic goes to an allowed remote model and comes back once a replica runs; a request naming the model
still reaches it (that is what wakes a pool that scaled to zero)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cluster.serve_engines import PoolChatEngine
from serving.engine import EngineStats
from serving.errors import EngineUnavailable
from serving.pool_stats import PoolStats
from tests.fakes import FakeChatEngine, asgi_client, build_fake_app

GEMMA, MINI = "gemma-3-270m", "openai/gpt-4o-mini"
APP = "llm-gemma-3-270m"


def body(model: str = "auto") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello there"}]}


class Replicas:
    def __init__(self, running: int) -> None:
        self.running = running

    def __call__(self, app: str) -> int:
        assert app == APP
        return self.running


async def test_an_empty_pool_reports_no_ready_replica_without_calling_it() -> None:
    inner = FakeChatEngine(GEMMA)
    inner.stats_error = AssertionError("an empty pool must not be asked (it would wake up)")
    pool = PoolChatEngine(inner, APP, Replicas(0))

    with pytest.raises(EngineUnavailable, match="no ready replica"):
        await pool.stats()
    with pytest.raises(EngineUnavailable, match="no ready replica"):
        await pool.check_health()


async def test_auto_goes_remote_while_the_pool_is_empty_and_comes_back_when_a_replica_runs() -> None:
    replicas = Replicas(0)
    gemma = FakeChatEngine(GEMMA)
    fake = build_fake_app([PoolChatEngine(gemma, APP, replicas), FakeChatEngine(MINI)])  # type: ignore[list-item]

    async with asgi_client(fake.app) as client:
        await fake.telemetry.sample()
        away = await client.post("/v1/chat/completions", json=body())
        named = await client.post("/v1/chat/completions", json=body(GEMMA))
        replicas.running = 1
        await fake.telemetry.sample()
        back = await client.post("/v1/chat/completions", json=body())

    assert away.status_code == 200 and away.headers["x-stellwerk-model"] == MINI
    assert named.status_code == 200 and named.headers["x-stellwerk-model"] == GEMMA  # wakes the pool
    assert back.status_code == 200 and back.headers["x-stellwerk-model"] == GEMMA
    assert fake.telemetry.latest.engine(GEMMA) is not None


async def test_the_queue_is_every_replica_s_as_serve_pushed_it() -> None:
    inner = FakeChatEngine(GEMMA)
    inner.stats_error = AssertionError("the pool's stats come from Serve's push, not from a call")
    registry = PoolStats()
    registry.record(APP, {"r1": {"running": 3, "waiting": 2, "kv_cache_usage": 0.5},
                          "r2": {"running": 1, "waiting": 0, "kv_cache_usage": 0.1}})
    pool = PoolChatEngine(inner, APP, Replicas(2), registry)

    assert await pool.stats() == EngineStats(running=4, waiting=2, replicas=2, kv_cache_usage=0.3)


def test_each_replica_s_own_stats_are_kept_apart_and_replaced_with_the_replica_set() -> None:
    registry = PoolStats()
    registry.record(APP, {"r1": {"running": 1, "chat_requests": 6}, "r2": {"running": 0, "chat_requests": 6}})
    registry.record(APP, {"r2": {"running": 0, "chat_requests": 7}})  # r1 has gone

    assert registry.replicas(APP) == {"r2": {"running": 0, "chat_requests": 7}}
    assert registry.replicas("another-pool") == {}


async def test_before_serve_pushed_any_stats_the_handle_is_asked() -> None:
    pool = PoolChatEngine(FakeChatEngine(GEMMA, waiting=5), APP, Replicas(1), PoolStats())

    assert (await pool.stats()).waiting == 5


class CountingEngine(FakeChatEngine):
    def __init__(self) -> None:
        super().__init__(GEMMA)
        self.health_calls = 0

    async def check_health(self) -> None:
        self.health_calls += 1
        await asyncio.sleep(0.05)


async def test_wake_sends_one_call_through_the_handle_at_a_time() -> None:
    inner = CountingEngine()
    pool = PoolChatEngine(inner, APP, Replicas(0), PoolStats())

    pool.wake()
    pool.wake()  # already waking: no second call
    await asyncio.sleep(0.1)
    pool.wake()  # the first finished: a new one
    await asyncio.sleep(0.1)

    assert inner.health_calls == 2
