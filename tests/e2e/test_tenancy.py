"""End to end on the real stack: a ban set with the CLI reaches the running router within a second,
`auto` moves to the next allowed model, a named banned model is refused, lifting restores it; the
ledger records the session's requests and `stellwerk costs` reports them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import CHAT_MODEL, FAKE_REMOTES, Stack

CODING = [{"role": "user", "content": "Write a Python function that reverses a linked list."}]


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    assert stack.database_url is not None
    command = [sys.executable, "-m", "stellwerk_cli.main", *args, "--database", stack.database_url]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def _route(stack: Stack) -> dict[str, Any]:
    reply = httpx.post(stack.api + "/route", json={"model": "auto", "messages": CODING}, timeout=30)
    decision: dict[str, Any] = reply.json()
    return decision


def test_a_ban_from_the_cli_reaches_the_router_within_a_second_and_lifts(stack: Stack) -> None:
    if stack.database_url is None:
        pytest.skip("an external stack's database is not ours to edit")
    assert _route(stack)["model"] == "openai/gpt-4o-mini"  # the cheapest good remote for coding

    banned = _cli(stack, "policy", "ban", "provider:openai", "--reason", "e2e regulator")
    assert banned.returncode == 0, banned.stderr
    started = time.monotonic()
    while _route(stack)["model"] == "openai/gpt-4o-mini":
        assert time.monotonic() - started < 10, "the ban did not reach the router"
        time.sleep(0.1)
    took = time.monotonic() - started
    try:
        moved = httpx.post(stack.api + "/chat/completions", timeout=60,
                           json={"model": "auto", "messages": CODING, "max_tokens": 16})
        named = httpx.post(stack.api + "/chat/completions", timeout=60,
                           json={"model": "openai/gpt-4o-mini", "messages": CODING, "max_tokens": 16})
    finally:
        lifted = _cli(stack, "policy", "lift", "provider:openai")
    assert lifted.returncode == 0, lifted.stderr
    print(f"the ban reached the running router in {took:.2f} s")  # routers poll every 0.5 s
    assert moved.status_code == 200
    assert moved.headers["x-stellwerk-model"] in set(FAKE_REMOTES) - {"openai/gpt-4o-mini"}
    assert named.status_code == 403 and "e2e regulator" in named.json()["error"]["message"]
    started = time.monotonic()
    while _route(stack)["model"] != "openai/gpt-4o-mini":
        assert time.monotonic() - started < 10, "lifting the ban did not reach the router"
        time.sleep(0.1)

    audit = json.loads(_cli(stack, "audit", "--json").stdout)
    assert [e["action"] for e in audit[:2]] == ["ban.lift", "ban.add"]


def test_the_ledger_has_the_sessions_requests_and_costs_reports_them(stack: Stack,
                                                                     client: Any) -> None:
    if stack.database_url is None:
        pytest.skip("an external stack's database is not ours to read")
    answer = client.chat.completions.create(model=CHAT_MODEL, max_tokens=8,
                                            messages=[{"role": "user", "content": "Say hi"}])
    report = json.loads(_cli(stack, "costs", "--json").stdout)
    rows = {(r["tenant"], r["model"]) for r in report["rows"]}
    assert ("default", CHAT_MODEL) in rows
    default = report["tenants"]["default"]
    assert default["requests"] >= 1 and default["baseline_cost"] > default["cost"]
    assert answer.id.startswith("chatcmpl-")
