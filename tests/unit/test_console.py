"""The operator console's server side: sessions (signed cookie, expiry, the CSRF header), login, the
page, and its read APIs (decisions without prompt text, spend with savings). The browser test is
tests/e2e/test_console_browser.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.tenancy.console_session import COOKIE, SESSION_S, actor_of, issue
from serving.errors import EngineFailed
from tests.fakes import FakeChatEngine, asgi_client, build_fake_app
from tests.tenancy_fakes import ADMIN_KEY, TenantApp, tenant_app

PROMPT = "walrus lantern pineapple"
KEY = "k" * 20


def test_session_cookie() -> None:
    cookie = issue(KEY, "alice", now=lambda: 1000.0)
    ok = actor_of({COOKIE: cookie}, {}, "GET", KEY, now=lambda: 1000.0 + SESSION_S)
    assert ok == "alice"
    assert actor_of({COOKIE: cookie}, {}, "GET", KEY, now=lambda: 1001.0 + SESSION_S) is None  # expired
    assert actor_of({COOKIE: cookie}, {}, "GET", "another key", now=lambda: 1000.0) is None
    assert actor_of({COOKIE: cookie.replace("alice", "mallory")}, {}, "GET", KEY, now=lambda: 1000.0) is None
    assert actor_of({COOKIE: cookie}, {}, "POST", KEY, now=lambda: 1000.0) is None  # no console header
    console = {"x-stellwerk-console": "1"}
    assert actor_of({COOKIE: cookie}, console, "DELETE", KEY, now=lambda: 1000.0) == "alice"
    with pytest.raises(ValueError):
        issue(KEY, "<script>")


@pytest.fixture
def ts(tmp_path: Path) -> TenantApp:
    engines = [FakeChatEngine("gemma-3-270m", error=EngineFailed("down")),
               FakeChatEngine("openai/gpt-4o-mini")]
    return tenant_app(tmp_path, "tenants:\n  acme: {}\n", engines)


async def test_login_page_and_session(ts: TenantApp) -> None:
    async with asgi_client(ts.fake.app) as client:
        first = await client.get("/console")
        assert first.status_code == 303 and first.headers["location"] == "/console/login"
        wrong = await client.post("/console/login", data={"key": "nope", "operator": "alice"})
        assert wrong.status_code == 401 and "not the admin key" in wrong.text
        right = await client.post("/console/login", data={"key": ADMIN_KEY, "operator": "alice"})
        assert right.status_code == 303
        assert "httponly" in right.headers["set-cookie"].lower()
        assert "samesite=strict" in right.headers["set-cookie"].lower()
        page = await client.get("/console")  # the client keeps the cookie
        assert page.status_code == 200 and "alice" in page.text and ADMIN_KEY not in page.text
        script = await client.get("/console/static/console.js")
        assert script.status_code == 200 and "x-stellwerk-console" in script.text
        assert (await client.get("/console/static/../session.py")).status_code == 404
        # The fleet view reads /status: the console's session shows the operator's details there.
        status = (await client.get("/status")).json()
        assert "routing" in status and "tenancy" in status
    async with asgi_client(ts.fake.app) as anonymous:
        assert "routing" not in (await anonymous.get("/status")).json()


async def test_decisions_have_reasons_and_no_prompt_text(ts: TenantApp) -> None:
    key = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        for _ in range(3):
            reply = await client.post(
                "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                json={"model": "auto", "messages": [{"role": "user", "content": PROMPT}]})
            assert reply.status_code == 200
        admin = {"authorization": f"Bearer {ADMIN_KEY}"}
        decisions = (await client.get("/console/api/decisions", headers=admin)).json()
        spend = (await client.get("/console/api/spend?window=day", headers=admin)).json()
        bad = await client.get("/console/api/spend?window=year", headers=admin)
    assert len(decisions["data"]) == 3
    assert all(d["reason"] and d["explanation"] and d["model"] == "gemma-3-270m" for d in decisions["data"])
    assert all(c["note"] is not None for d in decisions["data"] for c in d["candidates"])
    assert decisions["breakers"]["gemma-3-270m"].startswith("3 failures in a row")
    assert not any(word in json.dumps(decisions) for word in PROMPT.split())
    acme = spend["tenants"]["acme"]
    assert acme["requests"] == 3 and 0 < acme["cost"] < acme["baseline_cost"] and acme["savings_pct"] > 0
    assert spend["buckets"][0]["model"] == "openai/gpt-4o-mini" and spend["bucket_s"] == 3600
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "window"


async def test_console_is_off_without_an_admin_key() -> None:
    fake = build_fake_app([FakeChatEngine()])
    async with asgi_client(fake.app) as client:
        page = await client.get("/console")
        login = await client.post("/console/login", data={"key": "x"})
    assert page.status_code == 403 and "console is off" in page.text
    assert login.status_code == 403
