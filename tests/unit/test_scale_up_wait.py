"""Scale from zero for requests that may not leave the premises: they wait (bounded by the routing
configuration and the client) for the local pool's first ready replica instead of 503 at once, while
requests that may use a remote model still spill at once. Pool readiness is scripted; the router,
tenancy, routing and telemetry are the real ones."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cluster.serve_engines import PoolChatEngine
from models.catalogue import ModelEntry, load_catalogue
from router.routing.hints import hints_from_headers
from router.routing.scale_wait import ScaleUpWait
from serving.errors import EngineUnavailable, InvalidRequest
from tests.fakes import FakeChatEngine, asgi_client
from tests.tenancy_fakes import TenantApp, tenant_app

GEMMA, MINI = "gemma-3-270m", "openai/gpt-4o-mini"
APP = "llm-gemma-3-270m"
CHAT = "/v1/chat/completions"
TENANTS = """
tenants:
  onprem:
    policy: {leave_premises: false}
  free: {}
"""


def gemma_entry() -> ModelEntry:
    entry = load_catalogue().get(GEMMA)
    assert entry is not None
    return entry


class Replicas:
    """Serve's RUNNING replica count for the pool, as the router's status watcher would report it."""

    def __init__(self) -> None:
        self.running = 0

    def __call__(self, app: str) -> int:
        assert app == APP
        return self.running


class WakeCounting(FakeChatEngine):
    def __init__(self) -> None:
        super().__init__(GEMMA)
        self.woken = asyncio.Event()

    async def check_health(self) -> None:  # the wake-up call goes through the handle
        self.woken.set()


class Scene:
    def __init__(self, tmp_path: Path, routing_yaml: str | None = None) -> None:
        self.replicas = Replicas()
        self.gemma = WakeCounting()
        config = None
        if routing_yaml is not None:
            config = tmp_path / "routing.yaml"
            config.write_text(Path("router/routing/default.yaml").read_text() + routing_yaml)
        pool = PoolChatEngine(self.gemma, APP, self.replicas)
        self.ts: TenantApp = tenant_app(tmp_path, TENANTS, [pool, FakeChatEngine(MINI)],  # type: ignore[list-item]
                                            routing_config=config)
        self.keys = {t: self.ts.key(t) for t in ("onprem", "free")}

    async def post(self, client: Any, tenant: str, **headers: str) -> Any:
        body = {"model": "auto", "messages": [{"role": "user", "content": "hello there"}]}
        return await client.post(CHAT, json=body,
                                 headers={"authorization": f"Bearer {self.keys[tenant]}", **headers})


async def test_an_on_prem_tenant_waits_for_the_replica_and_is_served_locally(tmp_path: Path) -> None:
    scene = Scene(tmp_path)
    async with asgi_client(scene.ts.fake.app) as client:
        await scene.ts.fake.telemetry.sample()  # the pool reads "no ready replica"
        waiting = asyncio.create_task(scene.post(client, "onprem"))
        await asyncio.wait_for(scene.gemma.woken.wait(), 5)  # routing skipped the pool and woke it
        await asyncio.sleep(0.3)
        assert not waiting.done()  # no 503 at once: the request waits
        scene.replicas.running = 1  # Serve reports the new replica RUNNING
        reply = await asyncio.wait_for(waiting, 10)

    assert reply.status_code == 200, reply.text
    assert reply.headers["x-stellwerk-model"] == GEMMA
    assert scene.ts.fake.telemetry.latest.engine(GEMMA) is not None  # sampled once it was ready


async def test_a_tenant_allowed_to_leave_spills_at_once_while_the_pool_scales(tmp_path: Path) -> None:
    scene = Scene(tmp_path)
    async with asgi_client(scene.ts.fake.app) as client:
        await scene.ts.fake.telemetry.sample()
        reply = await asyncio.wait_for(scene.post(client, "free"), 5)  # the pool never becomes ready

    assert reply.status_code == 200 and reply.headers["x-stellwerk-model"] == MINI
    assert scene.gemma.woken.is_set()  # and the pool was asked to scale up for later requests


async def test_the_local_only_objective_waits_too(tmp_path: Path) -> None:
    scene = Scene(tmp_path)
    async with asgi_client(scene.ts.fake.app) as client:
        await scene.ts.fake.telemetry.sample()
        waiting = asyncio.create_task(scene.post(client, "free", **{"x-stellwerk-objective": "local-only"}))
        await asyncio.wait_for(scene.gemma.woken.wait(), 5)
        scene.replicas.running = 1
        reply = await asyncio.wait_for(waiting, 10)

    assert reply.status_code == 200 and reply.headers["x-stellwerk-model"] == GEMMA


async def test_the_client_s_bound_ends_the_wait_with_503_and_retry_after(tmp_path: Path) -> None:
    scene = Scene(tmp_path)
    async with asgi_client(scene.ts.fake.app) as client:
        await scene.ts.fake.telemetry.sample()
        reply = await asyncio.wait_for(scene.post(client, "onprem", **{"x-stellwerk-max-wait": "0.5"}), 10)

    assert reply.status_code == 503
    assert reply.headers["retry-after"] == "10"  # scale_up.retry_after_s of the shipped configuration
    error = reply.json()["error"]
    assert error["code"] == "engine_unavailable"
    assert "gemma-3-270m is scaling up from zero and was not ready to serve within 1 s" in error["message"]


async def test_a_configured_wait_of_zero_answers_at_once(tmp_path: Path) -> None:
    scene = Scene(tmp_path, "\nscale_up: {max_wait_s: 0, retry_after_s: 3}\n")
    async with asgi_client(scene.ts.fake.app) as client:
        await scene.ts.fake.telemetry.sample()
        reply = await asyncio.wait_for(scene.post(client, "onprem"), 5)

    assert reply.status_code == 503 and reply.headers["retry-after"] == "3"
    assert "allows no wait" in reply.json()["error"]["message"]


def test_the_client_s_limit_comes_from_its_header_or_half_its_sdk_timeout() -> None:
    def wait(**headers: str) -> float | None:
        return hints_from_headers(headers, tenant="t").max_wait_s

    assert wait() is None
    assert wait(**{"x-stainless-read-timeout": "20.0"}) == 10.0  # the OpenAI SDK's timeout
    assert wait(**{"x-stainless-timeout": "600"}) == 300.0       # the Anthropic SDK's
    assert wait(**{"x-stainless-read-timeout": "20", "x-stellwerk-max-wait": "2"}) == 2.0
    assert wait(**{"x-stainless-read-timeout": "soon"}) is None  # not the client's own words: ignored
    with pytest.raises(InvalidRequest) as bad:
        wait(**{"x-stellwerk-max-wait": "-1"})
    assert bad.value.param == "x-stellwerk-max-wait"


async def test_requests_waiting_together_share_one_telemetry_sample() -> None:
    entry = gemma_entry()
    ready = [False]
    samples = []

    async def sample() -> None:
        samples.append(1)
        await asyncio.sleep(0.05)

    wait = ScaleUpWait(lambda _: ready[0], sample, poll_s=0.01)
    tries = [0]

    async def attempt() -> str:
        tries[0] += 1
        if not ready[0]:
            raise EngineUnavailable("no ready replica")
        return "routed"

    waiting = [asyncio.create_task(wait.retry(attempt, lambda: [entry], 5, 1)) for _ in range(5)]
    await asyncio.sleep(0.05)
    ready[0] = True

    assert await asyncio.gather(*waiting) == ["routed"] * 5
    assert len(samples) == 1


async def test_an_engine_that_cannot_scale_is_not_waited_for() -> None:
    entry = gemma_entry()
    async def sample() -> None:
        raise AssertionError("nothing to wait for, so nothing to sample")

    wait = ScaleUpWait(lambda _: None, sample, poll_s=0.01)  # None: not a pool that scales

    async def attempt() -> str:
        raise EngineUnavailable("engine down")

    with pytest.raises(EngineUnavailable, match="engine down"):
        await asyncio.wait_for(wait.retry(attempt, lambda: [entry], 30, 1), 1)


async def test_a_replica_that_is_running_but_not_answering_yet_is_sampled_again() -> None:
    """Serve reports the replica RUNNING a moment before the router's handle can reach it (the first
    sample after readiness may still fail): the wait samples again, one poll later, until it works."""
    entry = gemma_entry()
    samples = []

    async def sample() -> None:
        samples.append(1)

    wait = ScaleUpWait(lambda _: True, sample, poll_s=0.01)

    async def attempt() -> str:
        if len(samples) < 3:
            raise EngineUnavailable("stats timed out after 1 s")
        return "routed"

    assert await asyncio.wait_for(wait.retry(attempt, lambda: [entry], 30, 1), 5) == "routed"
    assert len(samples) == 3


async def test_a_ready_pool_that_never_answers_ends_in_the_timeout_503() -> None:
    entry = gemma_entry()

    async def sample() -> None:
        return None

    wait = ScaleUpWait(lambda _: True, sample, poll_s=0.01)

    async def attempt() -> str:
        raise EngineUnavailable("stats failed")

    with pytest.raises(EngineUnavailable, match="was not ready to serve within 1 s") as refused:
        await asyncio.wait_for(wait.retry(attempt, lambda: [entry], 0.2, 7), 5)
    assert refused.value.retry_after_s == 7
