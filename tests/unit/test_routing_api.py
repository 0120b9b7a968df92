"""Routing through the HTTP API: explained decisions, /v1/route, fallback, objectives, policy, reload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from router.routing.config import DEFAULT_ROUTING_CONFIG_PATH
from serving.errors import ContentFiltered, EngineUnavailable, RateLimited, UpstreamTimeout
from tests.fakes import (
    FakeApp,
    FakeChatEngine,
    asgi_client,
    build_fake_app,
    parse_sse,
    sample,
    scrape,
)

GEMMA, MINI, FLASH = "gemma-3-270m", "openai/gpt-4o-mini", "gemini/gemini-2.5-flash"
CHAT, ROUTE = "/v1/chat/completions", "/v1/route"


# The floor-based objective, whose order (cheapest first) the fallback tests rely on.
GOOD_ENOUGH = {"x-stellwerk-objective": "good-enough"}


def ask(text: str = "hello there", **fields: Any) -> dict[str, Any]:
    return {"model": "auto", "messages": [{"role": "user", "content": text}], **fields}


def routed_app(engines: list[FakeChatEngine], *, category: str = "general",
                 config: Path | None = None, log: Path | None = None) -> FakeApp:
    return build_fake_app(engines, category=category, routing_config=config, decision_log=log)


async def test_route_dry_run_explains_without_running() -> None:
    local, remote = FakeChatEngine(GEMMA), FakeChatEngine(MINI)
    fake = routed_app([local, remote], category="math")
    async with asgi_client(fake.app) as client:
        response = await client.post(ROUTE, json=ask("what is 17 * 23?"))
        samples = await scrape(client)

    assert response.status_code == 200
    body = response.json()
    assert (body["object"], body["model"], body["reason"]) == ("stellwerk.route", MINI, "best-value")
    assert body["features"]["category"] == "math"
    notes = {c["model"]: c["note"] for c in body["candidates"]}
    assert notes[GEMMA].startswith("predicted quality 0.00 < minimum 0.35")
    assert "17 * 23" not in response.text
    assert not local.requests and not remote.requests
    assert sample(samples, "stellwerk_route_decisions_total", model=MINI, reason="best-value") == 0


async def test_route_for_a_named_model_says_requested() -> None:
    fake = routed_app([FakeChatEngine(GEMMA)])
    async with asgi_client(fake.app) as client:
        response = await client.post(ROUTE, json=ask(model=GEMMA))
    assert (response.json()["model"], response.json()["reason"]) == (GEMMA, "requested")


async def test_an_objective_is_chosen_per_request_by_header() -> None:
    local, remote = FakeChatEngine(GEMMA), FakeChatEngine(MINI)
    fake = routed_app([local, remote], category="math")
    async with asgi_client(fake.app) as client:
        balanced = await client.post(CHAT, json=ask())
        local_only = await client.post(CHAT, json=ask(), headers={"x-stellwerk-objective": "local-only"})
        unknown = await client.post(CHAT, json=ask(), headers={"x-stellwerk-objective": "fastest"})

    assert balanced.headers["x-stellwerk-model"] == MINI
    assert (local_only.headers["x-stellwerk-model"], local_only.headers["x-stellwerk-route"]) == (
        GEMMA, "local-only")
    assert local_only.headers["x-stellwerk-objective"] == "local-only"
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == "x-stellwerk-objective"
    assert "balanced" in unknown.json()["error"]["message"]


async def test_fallback_tries_the_next_candidate_and_says_which_served() -> None:
    down = FakeChatEngine(GEMMA, error=EngineUnavailable("replica crashed"))
    limited = FakeChatEngine(MINI, error=RateLimited("slow down"))
    ok = FakeChatEngine(FLASH)
    fake = routed_app([down, limited, ok], category="chit_chat")
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=ask(stream=True), headers=GOOD_ENOUGH)
        samples = await scrape(client)

    assert response.status_code == 200
    assert response.headers["x-stellwerk-model"] == FLASH
    assert response.headers["x-stellwerk-route"] == "fallback"
    assert response.headers["x-stellwerk-fallback-from"] == f"{GEMMA},{MINI}"
    events = parse_sse(response.text)
    assert events[-1] == "[DONE]" and events[0]["model"] == FLASH
    assert sample(samples, "stellwerk_route_fallbacks_total", model=GEMMA, error="engine_unavailable") == 1
    assert sample(samples, "stellwerk_route_fallbacks_total", model=MINI, error="rate_limited") == 1
    assert sample(samples, "stellwerk_route_decisions_total", model=FLASH, reason="fallback") == 1


async def test_fallback_is_bounded_by_max_attempts(tmp_path: Path) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text(DEFAULT_ROUTING_CONFIG_PATH.read_text().replace("max_attempts: 3", "max_attempts: 2"))
    engines = [FakeChatEngine(GEMMA, error=UpstreamTimeout("slow")),
               FakeChatEngine(MINI, error=EngineUnavailable("down")), FakeChatEngine(FLASH)]
    fake = routed_app(engines, category="chit_chat", config=config)
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=ask(), headers=GOOD_ENOUGH)

    assert response.status_code == 503  # the second (last allowed) attempt's error
    assert not engines[2].requests


async def test_no_fallback_for_an_error_in_the_request_itself() -> None:
    refused = FakeChatEngine(GEMMA, error=ContentFiltered("blocked"))
    other = FakeChatEngine(MINI)
    fake = routed_app([refused, other], category="chit_chat")
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=ask(), headers=GOOD_ENOUGH)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "content_filter"
    assert not other.requests


async def test_no_fallback_for_a_named_model() -> None:
    down, other = FakeChatEngine(GEMMA, error=EngineUnavailable("down")), FakeChatEngine(MINI)
    fake = routed_app([down, other])
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=ask(model=GEMMA))
    assert response.status_code == 503
    assert not other.requests


async def test_a_named_model_denied_by_policy_is_403(tmp_path: Path) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text(DEFAULT_ROUTING_CONFIG_PATH.read_text().replace(
        "deny_providers: []", "deny_providers: [openai]"))
    remote = FakeChatEngine(MINI)
    fake = routed_app([FakeChatEngine(GEMMA), remote], config=config)
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=ask(model=MINI))
        routed = await client.post(CHAT, json=ask(), headers={"x-stellwerk-objective": "quality"})

    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("permission_error", "model_not_allowed")
    assert "provider 'openai' is denied by policy" in error["message"]
    assert routed.headers["x-stellwerk-model"] == GEMMA  # best quality, but openai is out
    assert not remote.requests


async def test_config_reload_changes_new_decisions_and_keeps_the_last_good_version(tmp_path: Path) -> None:
    config = tmp_path / "routing.yaml"
    original = DEFAULT_ROUTING_CONFIG_PATH.read_text()
    config.write_text(original)
    fake = routed_app([FakeChatEngine(GEMMA), FakeChatEngine(MINI)], category="chit_chat", config=config)
    holder = fake.app.state.services.routing.config
    async with asgi_client(fake.app) as client:
        before = await client.post(CHAT, json=ask())
        config.write_text(original.replace("default_objective: balanced", "default_objective: quality"))
        assert holder.check()
        after = await client.post(CHAT, json=ask())
        config.write_text(original.replace("default_objective: balanced", "default_objective: nope"))
        assert not holder.check()
        status = (await client.get("/status")).json()["routing"]
        still = await client.post(CHAT, json=ask())

    assert (before.headers["x-stellwerk-model"], after.headers["x-stellwerk-model"]) == (GEMMA, MINI)
    assert after.headers["x-stellwerk-objective"] == "quality"
    assert status["config_version"] == 2
    assert "default_objective 'nope' is not one of the objectives" in status["config_error"]
    assert still.headers["x-stellwerk-objective"] == "quality"


async def test_the_decision_log_has_one_line_per_decision_without_prompt_text(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    fake = routed_app([FakeChatEngine(GEMMA), FakeChatEngine(MINI)], category="math", log=log)
    async with asgi_client(fake.app) as client:
        answer = await client.post(CHAT, json=ask("my password is swordfish"))
        await client.post(ROUTE, json=ask("my password is swordfish"))
    fake.app.state.services.routing.close()

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["dry_run"] for line in lines] == [False, True]
    assert lines[0]["request_id"] == answer.json()["id"]
    assert lines[0]["model"] == MINI and lines[0]["features"]["category"] == "math"
    assert {c["model"] for c in lines[0]["candidates"]} >= {GEMMA, MINI}
    assert "swordfish" not in log.read_text()


async def test_status_shows_routing_state() -> None:
    fake = routed_app([FakeChatEngine(GEMMA), FakeChatEngine(MINI)])
    async with asgi_client(fake.app) as client:
        await client.post(CHAT, json=ask(model=GEMMA))
        body = (await client.get("/status")).json()["routing"]

    assert body["default_objective"] == "balanced"
    assert body["config"].endswith("default.yaml")
    assert body["models"][GEMMA]["ttft_samples"] == 1
    assert body["models"][GEMMA]["in_flight"] == 0
    assert body["spilling"] == []
