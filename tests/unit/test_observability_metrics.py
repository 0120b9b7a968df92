"""The metrics the dashboard and alerts need beyond the request counters: model info, breaker and
unhealthy gauges, ledger commit latency and outcome, per-tenant figures and refusals from the ledger."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from serving.errors import EngineFailed
from tests.fakes import FakeChatEngine, asgi_client, sample, scrape
from tests.tenancy_fakes import tenant_app

TENANTS = """
tenants:
  acme: {}
  tight: {limits: {requests_per_minute: 1}}
"""
MINI = "openai/gpt-4o-mini"


async def test_tenant_figures_refusals_breakers_and_ledger(tmp_path: Path) -> None:
    engines = [FakeChatEngine("gemma-3-270m", error=EngineFailed("down")), FakeChatEngine(MINI)]
    ts = tenant_app(tmp_path, TENANTS, engines)
    acme, tight = ts.key("acme"), ts.key("tight")

    def ask(model: str = "auto") -> dict[str, object]:
        return {"model": model, "messages": [{"role": "user", "content": "one two three"}]}

    async with asgi_client(ts.fake.app) as client:
        for _ in range(3):
            assert (await client.post("/v1/chat/completions", json=ask(),
                                      headers={"authorization": f"Bearer {acme}"})).status_code == 200
        for status in (200, 429):
            reply = await client.post("/v1/chat/completions", json=ask(MINI),
                                      headers={"authorization": f"Bearer {tight}"})
            assert reply.status_code == status
        deadline = time.monotonic() + 5  # the refusal's row is written without a waiter
        while sample(m := await scrape(client), "stellwerk_ledger_records_total", outcome="committed") < 5:
            assert time.monotonic() < deadline, "the refusal's ledger row was not counted"
            await asyncio.sleep(0.02)

    assert sample(m, "stellwerk_model_info", model=MINI, provider="openai", kind="remote") == 1
    assert sample(m, "stellwerk_model_info", model="gemma-3-270m", provider="stellwerk-local",
                  kind="local") == 1
    assert sample(m, "stellwerk_breaker_open", model="gemma-3-270m") == 1
    assert sample(m, "stellwerk_model_unhealthy", model="gemma-3-270m") == 1
    assert sample(m, "stellwerk_breaker_open", model=MINI) == 0
    assert sample(m, "stellwerk_tenant_requests_total", tenant="acme", model=MINI, status="200") == 3
    assert sample(m, "stellwerk_tenant_tokens_total", tenant="acme", model=MINI, kind="completion") == 9
    assert sample(m, "stellwerk_tenant_cost_total", tenant="acme", model=MINI, currency="USD") > 0
    assert sample(m, "stellwerk_refusals_total", tenant="tight", reason="rate_limited") == 1
    assert sample(m, "stellwerk_ledger_records_total", outcome="committed") == 5
    assert sample(m, "stellwerk_ledger_records_total", outcome="failed") == 0
    assert sample(m, "stellwerk_ledger_commit_seconds_count") >= 1


async def test_failed_commits_are_counted(tmp_path: Path) -> None:
    ts = tenant_app(tmp_path, TENANTS, [FakeChatEngine(MINI)])
    ts.tenancy.writer._retry_delays_s = ()  # fail at once
    key = ts.key("acme")
    with ts.db.write() as cur:
        cur.execute("DROP TABLE ledger")
    async with asgi_client(ts.fake.app, raise_app_exceptions=False) as client:
        reply = await client.post("/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                                  json={"model": MINI, "messages": [{"role": "user", "content": "hi"}]})
        assert reply.status_code == 503  # the ledger cannot commit: refused, not answered unrecorded
        # Two records fail: the answer's (the caller waited for it) and the 503's own, written without a
        # waiter, so it may be counted just after the reply.
        deadline = time.monotonic() + 5
        while sample(m := await scrape(client), "stellwerk_ledger_records_total", outcome="failed") < 2:
            assert time.monotonic() < deadline, "the refusal's failed commit was not counted"
            await asyncio.sleep(0.02)
    assert sample(m, "stellwerk_ledger_records_total", outcome="failed") == 2
    assert sample(m, "stellwerk_ledger_records_total", outcome="committed") == 0


async def test_a_model_name_the_client_made_up_never_becomes_a_label(tmp_path: Path) -> None:
    ts = tenant_app(tmp_path, TENANTS, [FakeChatEngine(MINI)])
    headers = {"authorization": f"Bearer {ts.key('acme')}"}
    names = [f"made-up-{i}" for i in range(3)]
    async with asgi_client(ts.fake.app) as client:
        for name in [*names, MINI]:
            body = {"model": name, "messages": [{"role": "user", "content": "hi"}]}
            await client.post("/v1/chat/completions", json=body, headers=headers)
        deadline = time.monotonic() + 5  # the 404s' rows are written without a waiter
        while sample(m := await scrape(client), "stellwerk_ledger_records_total", outcome="committed") < 4:
            assert time.monotonic() < deadline, "the ledger rows were not counted"
            await asyncio.sleep(0.02)

    assert not [key for key in m if any(("model", n) in key[1] for n in names)]
    assert sample(m, "stellwerk_tenant_requests_total", tenant="acme", model="other", status="404") == 3
    assert sample(m, "stellwerk_tenant_requests_total", tenant="acme", model=MINI, status="200") == 1
