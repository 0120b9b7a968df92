"""`/status` and `/metrics` say whether the cluster-wide state (routing state: breakers and spillover;
rate limits) reaches the shared database, how long ago it last did, and what the router does while it
does not; requests keep being served meanwhile (the documented failure mode)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from router.store.sync_health import SyncHealth, shared_state_report
from tests.fakes import FakeChatEngine, asgi_client, sample, scrape
from tests.tenancy_fakes import ADMIN_KEY, TenantApp, tenant_app

TENANTS = """
tenants:
  acme: {limits: {requests_per_minute: 100}}
"""
MINI = "openai/gpt-4o-mini"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


async def shared_state(client: httpx.AsyncClient) -> dict[str, Any]:
    reply = await client.get("/status", headers=ADMIN)
    assert reply.status_code == 200
    state: dict[str, Any] = reply.json()["shared_state"]
    return state


async def ask(client: httpx.AsyncClient, key: str) -> httpx.Response:
    body = {"model": MINI, "messages": [{"role": "user", "content": "hello"}]}
    return await client.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})


async def sync_round(ts: TenantApp) -> None:
    await ts.fake.app.state.services.shared_routing.sync()


async def test_status_says_the_shared_state_is_unreachable_and_what_the_router_does_meanwhile(
        tmp_path: Path) -> None:
    ts = tenant_app(tmp_path, TENANTS, [FakeChatEngine(MINI)])
    key = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        before = await shared_state(client)
        assert before["reachable"] is None  # no exchange with the database yet
        assert before["routing_state"]["last_sync_age_s"] is None

        assert (await ask(client, key)).status_code == 200  # a limited request: its window is shared
        await sync_round(ts)
        up = await shared_state(client)
        assert up["reachable"] is True
        for part in ("routing_state", "rate_limits"):
            assert up[part]["reachable"] is True
            assert 0 <= up[part]["last_sync_age_s"] < 60
            assert up[part]["last_error"] is None

        ts.db.close()  # the shared database is gone
        await sync_round(ts)
        # Admitted on this router's own window; then refused, since its ledger row cannot be written.
        refused = await ask(client, key)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "ledger_unavailable"
        down = await shared_state(client)
        metrics = await scrape(client)
    ts.tenancy.writer.close()

    assert down["reachable"] is False
    routing, limits = down["routing_state"], down["rate_limits"]
    assert routing["reachable"] is False and limits["reachable"] is False
    assert "is closed" in routing["last_error"] and "StoreError" in limits["last_error"]
    assert routing["last_sync_age_s"] >= up["routing_state"]["last_sync_age_s"]  # the last good round
    assert "breakers and spillover hold per router" in routing["while_unreachable"]
    assert "limits hold per router" in limits["while_unreachable"]
    assert sample(metrics, "stellwerk_shared_state_reachable", state="routing_state") == 0
    assert ("stellwerk_shared_state_reachable", frozenset({("state", "rate_limits")})) in metrics
    assert ("stellwerk_shared_state_sync_age_seconds", frozenset({("state", "routing_state")})) in metrics


async def test_reachable_again_once_the_database_answers(tmp_path: Path) -> None:
    now = [1000.0]
    health = SyncHealth("routing_state", "per router", wall=lambda: now[0])
    assert health.failed(OSError("down")) is True  # an outage starts (logged once)
    assert health.failed(OSError("down")) is False
    now[0] += 5
    assert health.succeeded() is True  # it ends
    now[0] += 2

    report = shared_state_report([health, SyncHealth("rate_limits", "per router")])

    assert report["reachable"] is True  # rate limits have not been used: unknown, not a failure
    assert report["routing_state"] == {"reachable": True, "last_sync_age_s": 2.0, "last_error": None,
                                       "while_unreachable": "per router"}
    assert report["rate_limits"]["reachable"] is None
