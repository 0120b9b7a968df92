"""Circuit breakers and spillover shared by routers on one database (real SQLite and real PostgreSQL):
router A's breaker opens → router B skips the model after one sync round of each; a half-open trial
that succeeds (or fails) on one router closes (or re-opens) the breaker on the other; spillover enters
and returns together. Routing itself never reads the database."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.hot_reload import ConfigHolder
from router.routing.config import SpilloverConfig
from router.routing.health import HealthTracker
from router.routing.shared_state import SharedRoutingState
from router.routing.spillover import SpilloverState
from router.store import Database, KeyStore
from router.tenancy.config import TenantsConfig, load_tenants_config
from router.tenancy.service import TenancyService
from serving.errors import EngineFailed
from tests.fakes import FakeApp, FakeChatEngine, asgi_client, build_fake_app

pytest_plugins = ["tests.postgres"]

GEMMA, MINI = "gemma-3-270m", "openai/gpt-4o-mini"
THRESHOLD, COOLDOWN = 2, 30.0


class Clock:
    """One fake time for every router: monotonic and wall-clock seconds advance together."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def mono(self) -> float:
        return self.t - 999_000.0

    def wall(self) -> float:
        return self.t


class Router:
    """The routing state one router process keeps, with its own connection to the shared database."""

    def __init__(self, url: str, tmp_path: Path, clock: Clock) -> None:
        self.db = Database.open(url, default_path=tmp_path / "unused.db")
        self.health = HealthTracker(THRESHOLD, COOLDOWN, clock=clock.mono, wall=clock.wall)
        self.spill = SpilloverState(SpilloverConfig(return_ratio=0.7, min_dwell_s=5), clock=clock.mono,
                                    wall=clock.wall)
        self.shared = SharedRoutingState(self.db, self.health, self.spill, wall=clock.wall)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pair(database_url: str, tmp_path: Path, clock: Clock) -> Iterator[tuple[Router, Router]]:
    a, b = Router(database_url, tmp_path, clock), Router(database_url, tmp_path, clock)
    yield a, b
    a.db.close()
    b.db.close()


async def rounds(*routers: Router) -> None:
    for r in routers:
        await r.shared.sync()


async def test_an_open_breaker_on_one_router_opens_it_on_the_other(pair: tuple[Router, Router]) -> None:
    a, b = pair
    for _ in range(THRESHOLD):
        a.health.failed(GEMMA, "engine_error")
    assert a.health.unhealthy_reason(GEMMA) is not None
    assert b.health.unhealthy_reason(GEMMA) is None  # nothing crosses before a sync round

    await rounds(a, b)

    reason = b.health.unhealthy_reason(GEMMA)
    assert reason is not None and "engine_error" in reason and "retried in 30 s" in reason


async def test_a_half_open_trial_that_succeeds_on_one_router_closes_the_breaker_on_both(
        pair: tuple[Router, Router], clock: Clock) -> None:
    a, b = pair
    for _ in range(THRESHOLD):
        a.health.failed(GEMMA, "engine_error")
    await rounds(a, b)
    clock.t += COOLDOWN + 1
    assert a.health.unhealthy_reason(GEMMA) is None and b.health.unhealthy_reason(GEMMA) is None  # half-open

    b.health.succeeded(GEMMA)  # B's trial request got its first byte
    await rounds(b, a)

    a.health.failed(GEMMA, "engine_error")  # closed on A: one failure is a first failure again
    assert a.health.unhealthy_reason(GEMMA) is None


async def test_a_half_open_trial_that_fails_on_one_router_reopens_the_breaker_on_both(
        pair: tuple[Router, Router], clock: Clock) -> None:
    a, b = pair
    for _ in range(THRESHOLD):
        a.health.failed(GEMMA, "engine_error")
    await rounds(a, b)
    clock.t += COOLDOWN + 1

    b.health.failed(GEMMA, "upstream_timeout")  # B's trial failed: open again, for a new cooldown
    await rounds(b, a)

    reason = a.health.unhealthy_reason(GEMMA)
    assert reason is not None and "upstream_timeout" in reason


async def test_the_newest_transition_wins_whatever_order_routers_write_in(
        pair: tuple[Router, Router], clock: Clock) -> None:
    a, b = pair
    for _ in range(THRESHOLD):
        a.health.failed(GEMMA, "engine_error")
    clock.t += COOLDOWN + 1
    b.health.failed(GEMMA, "x")  # B's own breaker: an older opening ...
    b.health.failed(GEMMA, "x")
    clock.t += 1
    b.health.succeeded(GEMMA)   # ... then B closes it (the newest transition of all)
    clock.t -= 100              # A's transition is older still, and A writes last
    await rounds(b, a, b)

    assert a.health.unhealthy_reason(GEMMA) is None
    assert b.health.unhealthy_reason(GEMMA) is None


async def test_spillover_enters_and_returns_on_every_router(pair: tuple[Router, Router],
                                                           clock: Clock) -> None:
    a, b = pair
    assert a.spill.overloaded(GEMMA, "balanced", predicted_s=3.0, target_s=2.0)  # A leaves local
    await rounds(a, b)
    assert b.spill.spilling() == [(GEMMA, "balanced")]
    assert b.spill.overloaded(GEMMA, "balanced", predicted_s=1.9, target_s=2.0)  # hysteresis holds on B

    clock.t += 6
    assert not b.spill.overloaded(GEMMA, "balanced", predicted_s=1.0, target_s=2.0)  # B returns
    await rounds(b, a)

    assert a.spill.spilling() == []


async def test_the_running_sync_carries_a_transition_without_being_asked(database_url: str,
                                                                        tmp_path: Path) -> None:
    """The background loop: a transition is written at once, and the other router reads every
    interval (no explicit sync call; real clocks)."""
    a, b = (Router(database_url, tmp_path, Clock()) for _ in range(2))
    a.health = HealthTracker(THRESHOLD, COOLDOWN)
    b.health = HealthTracker(THRESHOLD, COOLDOWN)
    shared = [SharedRoutingState(r.db, r.health, r.spill, interval_s=0.05) for r in (a, b)]
    for s in shared:
        s.start()
    try:
        for _ in range(THRESHOLD):
            a.health.failed(GEMMA, "engine_error")
        async with asyncio.timeout(20):  # a bound for a very busy machine, not a timing claim
            while b.health.unhealthy_reason(GEMMA) is None:  # noqa: ASYNC110 (another router's state)
                await asyncio.sleep(0.02)
    finally:
        for s in shared:
            await s.stop()
        a.db.close()
        b.db.close()


async def test_without_the_database_each_router_keeps_its_own_breakers(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    a = Router(f"sqlite://{tmp_path / 'db.sqlite'}", tmp_path, clock)
    a.db.close()

    for _ in range(THRESHOLD):
        a.health.failed(GEMMA, "engine_error")
    with caplog.at_level(logging.WARNING):
        await a.shared.sync()
        await a.shared.sync()

    assert a.health.unhealthy_reason(GEMMA) is not None
    assert caplog.text.count("breakers and spillover hold per router") == 1  # said once per outage


# --- two router apps: B never tries the model A found failing -----------------------------------------


def router_app(url: str, tmp_path: Path, gemma: FakeChatEngine) -> FakeApp:
    db = Database.open(url, default_path=tmp_path / "unused.db")
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants:\n  acme: {}\n")
    holder: ConfigHolder[TenantsConfig] = ConfigHolder(tenants, load_tenants_config, what="tenants file")
    return build_fake_app([gemma, FakeChatEngine(MINI)], tenancy=TenancyService(holder, db))


async def test_router_b_skips_the_model_router_a_found_failing(database_url: str, tmp_path: Path) -> None:
    a = router_app(database_url, tmp_path, FakeChatEngine(GEMMA, error=EngineFailed("boom")))
    b_gemma = FakeChatEngine(GEMMA)
    b = router_app(database_url, tmp_path, b_gemma)
    _, secret = KeyStore(a.app.state.services.tenancy.db).create("acme", "k", actor="test")
    for r in (a, b):
        r.app.state.services.tenancy.directory.refresh(force=True)
    body = {"model": "auto", "messages": [{"role": "user", "content": "hello there"}]}
    headers = {"authorization": f"Bearer {secret}"}

    async with asgi_client(a.app) as client_a, asgi_client(b.app) as client_b:
        for _ in itertools.repeat(None, 3):  # the shipped failure_threshold: 3
            reply = await client_a.post("/v1/chat/completions", json=body, headers=headers)
            assert reply.headers["x-stellwerk-fallback-from"] == GEMMA  # tried, failed, fell back
        await a.app.state.services.shared_routing.sync()
        await b.app.state.services.shared_routing.sync()
        on_b = await client_b.post("/v1/chat/completions", json=body, headers=headers)

    assert on_b.status_code == 200 and on_b.headers["x-stellwerk-model"] == MINI
    assert "x-stellwerk-fallback-from" not in on_b.headers  # skipped, not tried
    assert b_gemma.requests == []
    for r in (a, b):
        r.app.state.services.tenancy.writer.close()
        r.app.state.services.tenancy.db.close()
