"""Tenancy through the HTTP API: keys, tenant policies, isolation, bans, limits, budgets, the guard,
and the ledger — a real SQLite database, the real router, fake engines."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from serving.errors import EngineUnavailable
from tests.fakes import FakeChatEngine, asgi_client, parse_sse
from tests.tenancy_fakes import ADMIN_KEY, TenantApp, tenant_app

GEMMA, MINI, HAIKU, FLASH = ("gemma-3-270m", "openai/gpt-4o-mini", "anthropic/claude-3.5-haiku",
                             "gemini/gemini-2.5-flash")
CHAT = "/v1/chat/completions"

TENANTS = """
tenants:
  acme:
    policy: {deny_providers: [openai]}
    limits: {requests_per_minute: 100}
  globex:
    policy: {leave_premises: false}
  initech:
    policy: {sensitive_data: refuse}
  umbrella:
    policy: {sensitive_data: on-prem}
  tiny:
    limits: {requests_per_minute: 2, tokens_per_minute: 100000}
  broke:
    budget: {per_day: 0.000001}
"""


def ask(text: str = "hello there", **fields: Any) -> dict[str, Any]:
    return {"model": "auto", "messages": [{"role": "user", "content": text}], **fields}


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


ADMIN = bearer(ADMIN_KEY)


def engines(**kwargs: Any) -> list[FakeChatEngine]:
    return [FakeChatEngine(GEMMA, **kwargs), FakeChatEngine(MINI, **kwargs), FakeChatEngine(HAIKU, **kwargs)]


@pytest.fixture
def ts(tmp_path: Path) -> TenantApp:
    return tenant_app(tmp_path, TENANTS, engines(), category="math")


# --- keys --------------------------------------------------------------------------------------------


async def test_no_key_and_a_wrong_key_are_401_openai_style(ts: TenantApp) -> None:
    async with asgi_client(ts.fake.app) as client:
        missing = await client.post(CHAT, json=ask())
        wrong = await client.post(CHAT, json=ask(), headers=bearer("stw-nope-nope"))
        models = await client.get("/v1/models")

    for reply in (missing, wrong, models):
        assert reply.status_code == 401
        assert reply.json()["error"]["type"] == "authentication_error"
        assert reply.json()["error"]["code"] == "invalid_api_key"
        assert reply.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in missing.json()["error"]["message"]
    assert not any(e.requests for e in ts.fake.chat.values())


async def test_a_key_works_and_a_revoked_key_stops_at_once(ts: TenantApp) -> None:
    secret = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        ok = await client.post(CHAT, json=ask(), headers=bearer(secret))
        keys = (await client.get("/admin/keys", headers=ADMIN)).json()["data"]
        revoked = await client.delete(f"/admin/keys/{keys[0]['id']}", headers=ADMIN)
        after = await client.post(CHAT, json=ask(), headers=bearer(secret))

    assert ok.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert after.status_code == 401
    assert secret not in str(keys)
    rows = ts.ledger_rows(2)
    assert rows[0]["tenant"] == "acme" and rows[0]["key_id"] == keys[0]["id"]
    assert rows[0]["status"] == 200 and rows[0]["request_id"] == ok.json()["id"]


async def test_the_anthropic_endpoint_takes_x_api_key(ts: TenantApp) -> None:
    secret = ts.key("acme")
    body = {"model": GEMMA, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(ts.fake.app) as client:
        ok = await client.post("/v1/messages", json=body, headers={"x-api-key": secret})
        missing = await client.post("/v1/messages", json=body)
    assert ok.status_code == 200
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"  # Anthropic's error shape
    assert ts.ledger_rows(1)[0]["endpoint"] == "messages"


async def test_keys_for_unknown_tenants_are_refused_and_the_admin_api_needs_its_key(ts: TenantApp) -> None:
    async with asgi_client(ts.fake.app) as client:
        unknown = await client.post("/admin/keys", json={"tenant": "nobody", "name": "x"}, headers=ADMIN)
        no_admin = await client.get("/admin/keys", headers=bearer(ts.key("acme")))
        created = await client.post("/admin/keys", json={"tenant": "acme", "name": "ci"},
                                    headers={**ADMIN, "x-stellwerk-actor": "alice"})
        audit = (await client.get("/admin/audit", headers=ADMIN)).json()["data"]

    assert unknown.status_code == 400 and "acme" in unknown.json()["error"]["message"]
    assert no_admin.status_code == 401
    assert created.json()["secret"].startswith("stw-")
    assert any(e["actor"] == "admin-api:alice" and e["action"] == "key.create" for e in audit)
    assert created.json()["secret"] not in str(audit)


# --- tenant policy and isolation ----------------------------------------------------------------------


async def test_a_denied_provider_is_never_reached_even_through_fallback(tmp_path: Path) -> None:
    # gemma cannot do maths (quality floor) and haiku fails: the next candidate would be gpt-4o-mini,
    # which acme's policy denies; the request fails rather than reach it.
    chat = [FakeChatEngine(GEMMA), FakeChatEngine(MINI), FakeChatEngine(HAIKU, error=EngineUnavailable("x"))]
    ts = tenant_app(tmp_path, TENANTS, chat, category="math")
    secret = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        auto = await client.post(CHAT, json=ask(), headers=bearer(secret))
        named = await client.post(CHAT, json=ask(model=MINI), headers=bearer(secret))
        route = (await client.post("/v1/route", json=ask(), headers=bearer(secret))).json()

    assert not ts.fake.chat[MINI].requests
    assert auto.headers.get("x-stellwerk-model") != MINI
    assert named.status_code == 403
    assert "denied for the tenant" in named.json()["error"]["message"]
    assert MINI not in route["fallback_order"] and route["model"] != MINI
    assert any(c["model"] == MINI and c["note"].startswith("policy:") for c in route["candidates"])


async def test_an_on_prem_tenant_only_reaches_local_models(ts: TenantApp) -> None:
    async with asgi_client(ts.fake.app) as client:
        answer = await client.post(CHAT, json=ask(), headers=bearer(ts.key("globex")))
    assert answer.headers["x-stellwerk-model"] == GEMMA  # maths: a best effort, but never a remote model
    assert not ts.fake.chat[MINI].requests and not ts.fake.chat[HAIKU].requests


async def test_a_tenant_reads_only_its_own_costs(ts: TenantApp) -> None:
    acme, globex = ts.key("acme"), ts.key("globex")
    async with asgi_client(ts.fake.app) as client:
        await client.post(CHAT, json=ask(), headers=bearer(acme))
        await client.post(CHAT, json=ask(), headers=bearer(globex))
        mine = (await client.get("/v1/costs", headers=bearer(acme))).json()
        everything = (await client.get("/admin/costs", headers=ADMIN)).json()
        not_admin = await client.get("/admin/costs", headers=bearer(acme))

    assert set(mine["tenants"]) == {"acme"} and {r["tenant"] for r in mine["rows"]} == {"acme"}
    assert set(everything["tenants"]) == {"acme", "globex"}
    assert not_admin.status_code == 401
    assert mine["baseline"]["model"] == "openai/gpt-6.2-astra"  # the priciest remote chat model


# --- bans ---------------------------------------------------------------------------------------------


async def test_ban_under_load_finishes_streams_moves_new_traffic_and_is_audited(tmp_path: Path) -> None:
    chat = [FakeChatEngine(GEMMA), FakeChatEngine(MINI, delay_s=0.05), FakeChatEngine(HAIKU)]
    ts = tenant_app(tmp_path, "tenants:\n  t: {}\n", chat, category="math")
    secret = ts.key("t")
    async with asgi_client(ts.fake.app) as client:
        async def stream() -> tuple[int, list[Any], str]:
            reply = await client.post(CHAT, json=ask("one two three four five six", stream=True),
                                      headers=bearer(secret))
            return reply.status_code, parse_sse(reply.text), reply.headers["x-stellwerk-model"]

        streams = [asyncio.create_task(stream()) for _ in range(8)]
        for _ in range(500):  # until all 8 are mid-stream (at most 5 s)
            if ts.fake.chat[MINI].active == 8:
                break
            await asyncio.sleep(0.01)
        assert ts.fake.chat[MINI].active == 8
        banned = await client.post("/admin/bans", json={"target": "provider:openai", "reason": "regulator"},
                                   headers={**ADMIN, "x-stellwerk-actor": "compliance"})
        after = await client.post(CHAT, json=ask(), headers=bearer(secret))
        named = await client.post(CHAT, json=ask(model=MINI), headers=bearer(secret))
        results = await asyncio.gather(*streams)
        lifted = await client.delete("/admin/bans/provider/openai", headers=ADMIN)
        restored = await client.post(CHAT, json=ask(), headers=bearer(secret))
        audit = (await client.get("/admin/audit", headers=ADMIN)).json()["data"]

    assert banned.status_code == 200 and lifted.json()["lifted"] is True
    assert all(status == 200 and events[-1] == "[DONE]" and model == MINI
               for status, events, model in results)
    assert all(not any("error" in e for e in events if isinstance(e, dict)) for _, events, _ in results)
    assert after.headers["x-stellwerk-model"] == HAIKU
    assert named.status_code == 403 and "banned: regulator" in named.json()["error"]["message"]
    assert restored.headers["x-stellwerk-model"] == MINI
    actions = [(e["actor"], e["action"], e["details"].get("target")) for e in audit]
    assert actions[:2] == [("admin-api", "ban.lift", "openai"), ("admin-api:compliance", "ban.add", "openai")]
    assert len(ts.ledger_rows(11)) >= 11  # 8 streams, after, named (refused), restored


# --- limits and budgets --------------------------------------------------------------------------------


async def test_over_the_request_rate_is_429_with_retry_after(ts: TenantApp) -> None:
    secret = ts.key("tiny")
    async with asgi_client(ts.fake.app) as client:
        replies = [await client.post(CHAT, json=ask(model=GEMMA), headers=bearer(secret)) for _ in range(3)]

    assert [r.status_code for r in replies] == [200, 200, 429]
    error = replies[2].json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limited")
    assert "2 requests per minute" in error["message"]
    assert 50 <= int(replies[2].headers["retry-after"]) <= 60


async def test_an_exhausted_budget_is_429_insufficient_quota(tmp_path: Path) -> None:
    ts = tenant_app(tmp_path, TENANTS, engines(), category="math")
    secret = ts.key("broke")
    async with asgi_client(ts.fake.app) as client:
        first = await client.post(CHAT, json=ask(), headers=bearer(secret))  # a paid remote model
        second = await client.post(CHAT, json=ask(), headers=bearer(secret))

    assert first.status_code == 200 and float(first.headers["x-stellwerk-cost"]) > 0
    assert second.status_code == 429
    error = second.json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "insufficient_quota")
    assert "daily budget" in error["message"]
    assert int(second.headers["retry-after"]) > 0


# --- the sensitive-data guard -------------------------------------------------------------------------


PII = "Please email jane.doe@example.com and charge card 4111 1111 1111 1111 for the order."


async def test_a_refusing_tenant_gets_403_and_nothing_sensitive_is_logged(
        ts: TenantApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with asgi_client(ts.fake.app) as client:
        refused = await client.post(CHAT, json=ask(PII), headers=bearer(ts.key("initech")))
        clean = await client.post(CHAT, json=ask("what is 2+2?"), headers=bearer(ts.key("initech")))

    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "sensitive_data"
    assert "credit card" in error["message"] and "email" in error["message"]
    assert "jane.doe" not in refused.text and "4111" not in refused.text
    assert clean.status_code == 200
    assert not any(e.requests and "jane.doe" in str(e.requests) for e in ts.fake.chat.values())
    assert "jane.doe" not in caplog.text and "4111" not in caplog.text


async def test_an_on_prem_guard_keeps_sensitive_prompts_local_and_says_so(ts: TenantApp) -> None:
    secret = ts.key("umbrella")
    async with asgi_client(ts.fake.app) as client:
        sensitive = await client.post(CHAT, json=ask(PII), headers=bearer(secret))
        plain = await client.post(CHAT, json=ask("what is 2+2?"), headers=bearer(secret))

    assert sensitive.headers["x-stellwerk-model"] == GEMMA
    assert sensitive.headers["x-stellwerk-sensitive"] == "credit_card,email"
    assert plain.headers["x-stellwerk-model"] == MINI  # nothing sensitive: routed as usual
    assert "x-stellwerk-sensitive" not in plain.headers


# --- the ledger ---------------------------------------------------------------------------------------


async def test_every_request_is_in_the_ledger_with_its_outcome(ts: TenantApp) -> None:
    secret = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        ok = await client.post(CHAT, json=ask(model=GEMMA), headers=bearer(secret))
        streamed = await client.post(CHAT, json=ask(stream=True, stream_options={"include_usage": True}),
                                     headers=bearer(secret))
        denied = await client.post(CHAT, json=ask(model=MINI), headers=bearer(secret))

    rows = {r["request_id"]: r for r in ts.ledger_rows(3)}
    assert rows[ok.json()["id"]]["model"] == GEMMA and rows[ok.json()["id"]]["route"] == "requested"
    stream_id = parse_sse(streamed.text)[0]["id"]
    assert rows[stream_id]["status"] == 200 and rows[stream_id]["completion_tokens"] > 0
    assert rows[stream_id]["objective"] == "balanced"
    refused = [r for r in rows.values() if r["status"] == 403]
    assert len(refused) == 1 and refused[0]["error_type"] == "model_not_allowed"
    assert denied.status_code == 403


async def test_a_ban_reaches_another_router_on_the_same_database_within_a_second(tmp_path: Path) -> None:
    first = tenant_app(tmp_path, "tenants:\n  t: {}\n", engines(), category="math")
    second_dir = tmp_path / "second"
    second_dir.mkdir()
    # A second router process would open the same database; here, a second app in this process.
    second = tenant_app(second_dir, "tenants:\n  t: {}\n", engines(), category="math",
                          database=tmp_path / "stellwerk.db")
    secret = first.key("t")
    second.tenancy.directory.refresh()  # the key; the ban below must arrive by polling alone
    second.tenancy.directory.start()  # its polling loop, as the app's lifespan would start it
    try:
        async with asgi_client(first.fake.app) as a, asgi_client(second.fake.app) as b:
            before = await b.post(CHAT, json=ask(), headers=bearer(secret))
            await a.post("/admin/bans", json={"target": "model:openai/gpt-4o-mini"}, headers=ADMIN)
            started = asyncio.get_running_loop().time()
            for _ in range(500):  # the ban must arrive by polling (every 0.5 s); 10 s is a generous bound
                reply = await b.post(CHAT, json=ask(), headers=bearer(secret))
                if reply.headers["x-stellwerk-model"] != MINI:
                    break
                await asyncio.sleep(0.02)
            took = asyncio.get_running_loop().time() - started
    finally:
        await second.tenancy.directory.stop()

    assert before.headers["x-stellwerk-model"] == MINI
    assert reply.headers["x-stellwerk-model"] == HAIKU
    print(f"the ban reached the second router in {took:.2f} s")  # a measurement, not a threshold


async def test_the_tenants_file_reloads_without_a_restart(tmp_path: Path) -> None:
    ts = tenant_app(tmp_path, "tenants:\n  t: {}\n", engines(), category="math")
    secret = ts.key("t")
    async with asgi_client(ts.fake.app) as client:
        before = await client.post(CHAT, json=ask(), headers=bearer(secret))
        ts.tenants_file.write_text("tenants:\n  t:\n    policy: {leave_premises: false}\n")
        assert ts.tenancy.tenants.check()
        after = await client.post(CHAT, json=ask(), headers=bearer(secret))
        ts.tenants_file.write_text("tenants:\n  t:\n    policy: {leave_premise: false}\n")
        assert not ts.tenancy.tenants.check()
        status = (await client.get("/status", headers=ADMIN)).json()["tenancy"]
        kept = await client.post(CHAT, json=ask(), headers=bearer(secret))

    assert before.headers["x-stellwerk-model"] == MINI
    assert after.headers["x-stellwerk-model"] == GEMMA
    assert "leave_premise" in status["config_error"] and status["config_version"] == 2
    assert kept.headers["x-stellwerk-model"] == GEMMA
