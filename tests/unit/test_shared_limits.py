"""Cluster-wide rate limits: two router apps on one database (real SQLite and real PostgreSQL) share a
tenant's window, so a limit of 10 requests/minute admits 10 in total, not 10 per router."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest

from router.hot_reload import ConfigHolder
from router.store import Database, KeyStore
from router.tenancy.config import Limits, TenantsConfig, load_tenants_config
from router.tenancy.limits import Limiter, RateLimiter, SharedRateLimiter
from router.tenancy.service import TenancyService
from serving.errors import RateLimited
from tests.fakes import FakeApp, FakeChatEngine, asgi_client, build_fake_app

pytest_plugins = ["tests.postgres"]

TENANTS = """
tenants:
  acme:
    limits: {requests_per_minute: 10}
"""
CHAT = "/v1/chat/completions"


def router(url: str, tenants: Path, tmp_path: Path, limiter: Limiter | None = None) -> FakeApp:
    """One router app with its own connection to the shared database (as a second process has)."""
    db = Database.open(url, default_path=tmp_path / "unused.db")
    holder: ConfigHolder[TenantsConfig] = ConfigHolder(tenants, load_tenants_config, what="tenants file")
    tenancy = TenancyService(holder, db, limiter=limiter)
    return build_fake_app([FakeChatEngine("gemma-3-270m")], tenancy=tenancy)


async def send_alternately(routers: list[FakeApp], secret: str, count: int) -> list[int]:
    body = {"model": "gemma-3-270m", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {secret}"}
    async with asgi_client(routers[0].app) as a, asgi_client(routers[1].app) as b:
        clients = itertools.cycle([a, b])
        replies = await asyncio.gather(*(next(clients).post(CHAT, json=body, headers=headers)
                                         for _ in range(count)))
    return [r.status_code for r in replies]


def two_routers(url: str, tmp_path: Path, **kwargs: Any) -> tuple[list[FakeApp], str]:
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(TENANTS)
    routers = [router(url, tenants, tmp_path, **kwargs), router(url, tenants, tmp_path, **kwargs)]
    _, secret = KeyStore(routers[0].app.state.services.tenancy.db).create("acme", "k", actor="test")
    for r in routers:
        r.app.state.services.tenancy.directory.refresh(force=True)
    return routers, secret


async def test_two_routers_on_one_database_admit_the_limit_in_total(database_url: str,
                                                                     tmp_path: Path) -> None:
    routers, secret = two_routers(database_url, tmp_path)

    statuses = await send_alternately(routers, secret, 16)

    assert statuses.count(200) == 10
    assert statuses.count(429) == 6


async def test_per_router_windows_would_admit_the_limit_per_router(tmp_path: Path) -> None:
    """The same traffic with each router's own window: the limit holds per router only (why the
    shared window exists, and proof that the test above can fail)."""
    routers, secret = two_routers(f"sqlite://{tmp_path / 'db.sqlite'}", tmp_path, limiter=None)
    for r in routers:
        r.app.state.services.tenancy.limiter = RateLimiter()

    statuses = await send_alternately(routers, secret, 16)

    assert statuses.count(200) == 16


def test_the_shared_window_counts_tokens_and_settles_them(database: Database) -> None:
    now = [1000.0]
    limiter = SharedRateLimiter(database, clock=lambda: now[0])
    other = SharedRateLimiter(database, clock=lambda: now[0])  # a second router
    limits = Limits(tokens_per_minute=100)

    first = limiter.admit("acme", limits, 80)
    with pytest.raises(RateLimited, match="100 tokens per minute") as refused:
        other.admit("acme", limits, 30)
    wait = refused.value.retry_after_s
    assert wait is not None and 0 < wait <= 60
    limiter.settle(first, 20)  # the answer used fewer tokens than estimated
    other.admit("acme", limits, 30)
    now[0] += 61  # the window slides: everything has left it
    limiter.admit("acme", limits, 100)
    other.admit("globex", limits, 100)  # tenants have separate windows


def test_the_request_limit_says_when_to_retry(database: Database) -> None:
    now = [1000.0]
    limiter = SharedRateLimiter(database, clock=lambda: now[0])
    limits = Limits(requests_per_minute=2)
    limiter.admit("acme", limits, 1)
    now[0] += 10
    limiter.admit("acme", limits, 1)
    with pytest.raises(RateLimited, match="2 requests per minute") as refused:
        limiter.admit("acme", limits, 1)
    assert refused.value.retry_after_s == pytest.approx(50)


def test_without_the_database_limits_hold_per_router(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """Failure mode: the database is gone → this router's own window, logged, no refusals for it."""
    db = Database.open(f"sqlite://{tmp_path / 'db.sqlite'}", default_path=tmp_path / "x.db")
    limiter = SharedRateLimiter(db)
    limits = Limits(requests_per_minute=2)
    limiter.admit("acme", limits, 1)
    db.close()

    limiter.admit("acme", limits, 1)
    limiter.admit("acme", limits, 1)
    with pytest.raises(RateLimited):
        limiter.admit("acme", limits, 1)
    assert "limits hold per router" in caplog.text
