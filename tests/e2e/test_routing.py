"""End to end routing on the real stack: the learned classifier in the decision, spillover from a
saturated Gemma to a fake remote provider and back, and a configuration reload under traffic."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import CHAT_MODEL, E2E_SPILL_DWELL_S, FAKE_REMOTES, Stack

CHEAPEST = {"x-stellwerk-objective": "cheapest"}


def _route(stack: Stack, text: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    body = {"model": "auto", "messages": [{"role": "user", "content": text}]}
    reply = httpx.post(stack.api + "/route", json=body, headers=headers or {}, timeout=30)
    assert reply.status_code == 200, reply.text
    decision: dict[str, Any] = reply.json()
    return decision


def _status(stack: Stack) -> dict[str, Any]:
    status: dict[str, Any] = httpx.get(stack.base_url + "/status", timeout=30).json()
    return status


def _engine_queue(stack: Stack) -> int:
    load = _status(stack)["engines"].get(CHAT_MODEL, {})
    return int(load.get("running", 0)) + int(load.get("waiting", 0))


def test_auto_with_the_cheapest_objective_picks_the_idle_local_model(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="auto", max_tokens=16, messages=[{"role": "user", "content": "What is the capital of France?"}],
        extra_headers=CHEAPEST)
    assert raw.parse().model == CHAT_MODEL
    assert (raw.headers["x-stellwerk-model"], raw.headers["x-stellwerk-route"]) == (CHAT_MODEL, "cheapest")
    assert raw.headers["x-stellwerk-objective"] == "cheapest"


@contextmanager
def _burst(stack: Stack, n: int, max_tokens: int) -> Iterator[list[httpx.Response]]:
    """`n` concurrent requests that name Gemma (they must queue there, never spill)."""
    replies: list[httpx.Response] = []
    body = {"model": CHAT_MODEL, "max_tokens": max_tokens, "ignore_eos": True, "min_tokens": max_tokens,
            "stop": [], "messages": [{"role": "user", "content": "Tell me a long story about trains."}]}

    def one() -> None:
        replies.append(httpx.post(stack.api + "/chat/completions", json=body, timeout=600))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    try:
        yield replies
    finally:
        for t in threads:
            t.join(600)


def _wait_for(condition: Any, timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.25)


def test_auto_spills_to_a_remote_provider_while_gemma_is_saturated_and_returns(
        stack: Stack, client: openai.OpenAI) -> None:
    spilled: list[tuple[str, str]] = []
    with _burst(stack, n=12, max_tokens=48) as burst:
        _wait_for(lambda: _engine_queue(stack) >= 8, 120, "Gemma's engine never showed the burst queued")
        for _ in range(3):
            raw = client.chat.completions.with_raw_response.create(
                model="auto", max_tokens=8, messages=[{"role": "user", "content": "Say hi"}],
                extra_headers=CHEAPEST)
            spilled.append((raw.headers["x-stellwerk-model"], raw.headers["x-stellwerk-route"]))
        routing = _status(stack)["routing"]
    assert all(model in FAKE_REMOTES and route == "spillover" for model, route in spilled), spilled
    assert {"model": CHAT_MODEL, "objective": "cheapest"} in routing["spilling"]
    # The requests that named Gemma queued there and were all answered by it.
    assert len(burst) == 12
    assert all(r.status_code == 200 and r.json()["model"] == CHAT_MODEL for r in burst)
    assert all(r.headers["x-stellwerk-route"] == "requested" for r in burst)

    _wait_for(lambda: _engine_queue(stack) == 0, 60, "Gemma's queue did not drain")
    # Every dispatch of this and the earlier tests is settled: the router's own count comes back to 0
    # (a cancelled stream of an earlier test settles asynchronously, hence the wait).
    _wait_for(lambda: _status(stack)["routing"]["models"][CHAT_MODEL]["in_flight"] == 0, 10,
              "the router still counts requests in flight on Gemma")
    time.sleep(E2E_SPILL_DWELL_S)
    raw = client.chat.completions.with_raw_response.create(
        model="auto", max_tokens=8, messages=[{"role": "user", "content": "Say hi"}], extra_headers=CHEAPEST)
    assert (raw.headers["x-stellwerk-model"], raw.headers["x-stellwerk-route"]) == (CHAT_MODEL, "cheapest"), (
        _status(stack)["routing"]["models"].get(CHAT_MODEL))

    metrics = httpx.get(stack.base_url + "/metrics").text
    assert 'reason="spillover"' in metrics
    if stack.decision_log is not None:
        lines = [json.loads(line) for line in stack.decision_log.read_text().splitlines()]
        spills = [d for d in lines if d["reason"] == "spillover"]
        assert spills and all(d["objective"] == "cheapest" for d in spills)
        gemma = next(c for c in spills[0]["candidates"] if c["model"] == CHAT_MODEL)
        assert gemma["queued"] >= 6 and "predicted TTFT" in gemma["note"]


def test_the_routing_config_reloads_under_traffic_without_dropping_requests(stack: Stack) -> None:
    if stack.routing_config is None:
        pytest.skip("an external stack's routing configuration is not ours to edit")
    original = stack.routing_config.read_text()
    version = _status(stack)["routing"]["config_version"]
    assert _route(stack, "Say hi")["objective"] == "balanced"
    try:
        with _burst(stack, n=4, max_tokens=24) as burst:
            _wait_for(lambda: _engine_queue(stack) >= 2, 60, "the streams never reached the engine")
            stack.routing_config.write_text(
                original.replace("default_objective: balanced", "default_objective: local-only"))
            _wait_for(lambda: _status(stack)["routing"]["config_version"] == version + 1, 10,
                      "the router did not pick up the changed configuration")
            decision = _route(stack, "Say hi")
        assert (decision["objective"], decision["model"], decision["reason"]) == (
            "local-only", CHAT_MODEL, "local-only")
        assert len(burst) == 4 and all(r.status_code == 200 for r in burst)
        assert all(r.json()["usage"]["completion_tokens"] == 24 for r in burst)

        stack.routing_config.write_text("default_objective: [not, valid")
        _wait_for(lambda: _status(stack)["routing"]["config_error"] is not None, 10,
                  "an invalid configuration was not reported")
        assert _route(stack, "Say hi")["objective"] == "local-only"  # the last good version stays
    finally:
        stack.routing_config.write_text(original)
    _wait_for(lambda: _status(stack)["routing"]["config_error"] is None, 10, "the fix was not picked up")
    assert _route(stack, "Say hi")["objective"] == "balanced"
