"""A failure in the middle of a streamed answer, as each dialect words it, through the real app.

The upstream is the fake OpenAI server (tests/fake_providers/openai_server.py) failing mid-stream as
providers do (an in-stream error object, a stall, a dropped connection), reached over real HTTP by the
real remote adapter; the same failure must come out as OpenAI's error object on /v1/chat/completions,
Anthropic's error type for its status on /v1/messages, and the Responses API's `error` +
`response.failed` on /v1/responses. The deadline for a whole answer ends each stream in its dialect too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from models.availability import Availability
from models.catalogue import load_catalogue
from router.app import create_app
from router.chat.accounted import StreamSettings
from router.registry import ModelRegistry
from router.routing.build import default_routing
from serving.remote.registry import ProviderClients, create_remote_engine
from tests.fake_providers import openai_server
from tests.fake_providers.runner import serve_app
from tests.fakes import (
    DEFAULT_QUALITY,
    FakeChatEngine,
    ScriptedFeatures,
    TableQuality,
    asgi_client,
    build_fake_app,
)

MODEL = "openai/gpt-4o-mini"
ASK = "please answer in many words"

# upstream script -> (OpenAI type, OpenAI code), Anthropic error type, Responses `response.failed` code
CASES: dict[str, tuple[tuple[str, str | None], str, str]] = {
    "rate-limited-mid-stream": (("rate_limit_error", "rate_limited"), "rate_limit_error",
                                "rate_limit_exceeded"),
    "overloaded-mid-stream": (("service_unavailable", "engine_unavailable"), "overloaded_error",
                              "server_error"),
    "invalid-mid-stream": (("invalid_request_error", None), "invalid_request_error", "invalid_prompt"),
    "hang-mid-stream": (("upstream_error", "upstream_timeout"), "timeout_error", "server_error"),
    "reset-mid-stream": (("upstream_error", "engine_error"), "api_error", "server_error"),
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve_app(openai_server.create_app(expected_key="test-key")) as url:
        yield url + "/v1"


async def _answer(base_url: str, script: str, path: str, body: dict[str, Any]) -> str:
    """The body of one streamed answer from a router whose MODEL calls `script` at the fake."""
    catalogue = load_catalogue()
    entry = catalogue.get(MODEL)
    assert entry is not None and entry.remote is not None
    remote = entry.remote.model_copy(update={"base_url": base_url, "model": script, "read_timeout_s": 1.0})
    entry = entry.model_copy(update={"remote": remote})
    clients = ProviderClients()
    engine = create_remote_engine(entry, clients, {"OPENAI_API_KEY": "test-key"})
    availabilities = [Availability(entry, True) if m.id == MODEL else Availability(m, False, "off")
                      for m in catalogue.models]
    registry = ModelRegistry(availabilities, {MODEL: engine}, {})
    routing = default_routing(registry, features=ScriptedFeatures(), quality=TableQuality(DEFAULT_QUALITY))
    app = create_app(registry, routing=routing)
    try:
        async with asgi_client(app) as client:
            response = await client.post(path, json=body, timeout=30)
    finally:
        await clients.aclose()
    assert response.status_code == 200, response.text
    return response.text


def named_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, payload) of a named-event SSE body; fails on a frame of another shape."""
    assert text.endswith("\n\n"), text[-80:]
    events = []
    for frame in text[:-2].split("\n\n"):
        name, data = frame.split("\n")
        assert name.startswith("event: ") and data.startswith("data: "), frame
        events.append((name[len("event: "):], json.loads(data[len("data: "):])))
    return events


def data_events(text: str) -> list[Any]:
    frames = [f for f in text.split("\n\n") if f]
    assert all(f.startswith("data: ") for f in frames), text
    return [f[6:] if f == "data: [DONE]" else json.loads(f[6:]) for f in frames]


@pytest.mark.parametrize("script", list(CASES))
async def test_openai_chat_stream_ends_with_openai_error_then_done(upstream: str, script: str) -> None:
    text = await _answer(upstream, script, "/v1/chat/completions", {
        "model": MODEL, "stream": True, "messages": [{"role": "user", "content": ASK}]})
    events = data_events(text)
    (kind, code), _, _ = CASES[script]
    assert events[-1] == "[DONE]"
    assert (events[-2]["error"]["type"], events[-2]["error"]["code"]) == (kind, code)
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-2]) == "You said: "


@pytest.mark.parametrize("script", list(CASES))
async def test_anthropic_stream_error_has_anthropics_type_for_the_status(upstream: str, script: str) -> None:
    text = await _answer(upstream, script, "/v1/messages", {
        "model": MODEL, "stream": True, "max_tokens": 50, "messages": [{"role": "user", "content": ASK}]})
    events = named_events(text)
    _, anthropic_type, _ = CASES[script]
    assert [name for name, _ in events[-2:]] == ["content_block_stop", "error"]
    assert events[-1][1]["error"]["type"] == anthropic_type
    assert events[-1][1]["error"]["message"]
    assert "message_stop" not in [name for name, _ in events]


@pytest.mark.parametrize("script", list(CASES))
async def test_responses_stream_error_then_failed_with_a_responses_code(upstream: str, script: str) -> None:
    text = await _answer(upstream, script, "/v1/responses", {"model": MODEL, "stream": True, "input": ASK})
    events = named_events(text)
    (kind, code), _, failed_code = CASES[script]
    assert [name for name, _ in events[-2:]] == ["error", "response.failed"]
    error, failed = events[-2][1], events[-1][1]
    assert error["code"] == (code or kind)  # the `error` event keeps our own, more precise code
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["code"] == failed_code
    numbers = [payload["sequence_number"] for _, payload in events]
    assert numbers == list(range(len(events)))


# --- the router's deadline for a whole answer, in each dialect ------------------------------------


async def _late(path: str, body: dict[str, Any]) -> str:
    engine = FakeChatEngine("gemma-3-270m", delay_s=0.1)
    fake = build_fake_app([engine], streams=StreamSettings(deadline_s=0.3))
    async with asgi_client(fake.app) as client:
        response = await client.post(path, json=body)
    assert response.status_code == 200 and engine.stopped_early
    return response.text


WORDS = " ".join(["word"] * 50)


async def test_deadline_on_messages_is_anthropics_timeout_error() -> None:
    text = await _late("/v1/messages", {"model": "gemma-3-270m", "stream": True, "max_tokens": 100,
                                        "messages": [{"role": "user", "content": WORDS}]})
    events = named_events(text)
    assert [name for name, _ in events[-2:]] == ["content_block_stop", "error"]
    assert events[-1][1]["error"]["type"] == "timeout_error"


async def test_deadline_on_responses_is_an_error_event_then_response_failed() -> None:
    text = await _late("/v1/responses", {"model": "gemma-3-270m", "stream": True, "input": WORDS})
    events = named_events(text)  # no OpenAI chat frames, no [DONE]
    assert [name for name, _ in events[-2:]] == ["error", "response.failed"]
    assert events[-2][1]["code"] == "stream_deadline"
    assert events[-1][1]["response"]["error"]["code"] == "server_error"
