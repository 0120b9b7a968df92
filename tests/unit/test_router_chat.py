"""POST /v1/chat/completions through the real ASGI app, with fake engines (no Ray, no vLLM, no network)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

import pytest
from fastapi import FastAPI

from serving.engine import ChatEngine, EmbeddingEngine
from tests.fakes import (
    FakeChatEngine,
    FakeEmbeddingEngine,
    asgi_client,
    build_fake_app,
    parse_sse,
    sample,
    scrape,
)

pytestmark = pytest.mark.asyncio

GEMMA = "gemma-3-270m"
REMOTE = "openai/gpt-4o-mini"
CHAT = "/v1/chat/completions"
# Long enough that the router's estimate exceeds gemma's 2048-token context.
LONG_PROMPT = "x" * 7000


def ask(text: str = "Say hello to the world", **fields: Any) -> dict[str, Any]:
    return {"model": GEMMA, "messages": [{"role": "user", "content": text}], **fields}


async def post_chat(engine: FakeChatEngine, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    fake = build_fake_app([engine])
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=body)
    return response.status_code, dict(response.headers), response.text


# --- the fakes -------------------------------------------------------------------------------------


async def test_fakes_implement_the_engine_interfaces() -> None:
    assert isinstance(FakeChatEngine(), ChatEngine)
    assert isinstance(FakeEmbeddingEngine(), EmbeddingEngine)


# --- non-streaming ---------------------------------------------------------------------------------


async def test_non_streaming_answer_is_an_openai_chat_completion() -> None:
    status, headers, text = await post_chat(FakeChatEngine(), ask("Say hello to the world"))

    assert status == 200
    answer = json.loads(text)
    assert answer["id"].startswith("chatcmpl-")
    assert answer["object"] == "chat.completion"
    assert isinstance(answer["created"], int)
    assert answer["model"] == GEMMA
    assert answer["choices"] == [{"index": 0, "message": {"role": "assistant",
                                                          "content": "Say hello to the world"},
                                  "logprobs": None, "finish_reason": "stop"}]
    assert answer["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    assert headers["x-stellwerk-model"] == GEMMA
    assert headers["x-stellwerk-route"] == "requested"


async def test_model_alias_resolves_to_the_catalogue_id() -> None:
    engine = FakeChatEngine()
    status, headers, text = await post_chat(engine, ask(model="local/gemma-3-270m"))

    assert status == 200
    assert json.loads(text)["model"] == GEMMA
    assert headers["x-stellwerk-model"] == GEMMA
    assert engine.last_request["model"] == GEMMA


# --- streaming -------------------------------------------------------------------------------------


async def test_stream_is_sse_with_role_first_content_deltas_and_done() -> None:
    status, headers, text = await post_chat(FakeChatEngine(), ask("one two three", stream=True))

    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["x-stellwerk-model"] == GEMMA
    assert headers["x-stellwerk-route"] == "requested"
    events = parse_sse(text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == GEMMA for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    deltas = [c["choices"][0]["delta"].get("content", "") for c in chunks[1:]]
    assert "".join(deltas) == "one two three"
    assert sum(1 for d in deltas if d) == 3  # one delta per engine chunk, not one blob
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)  # usage only when asked for


async def test_stream_include_usage_adds_a_final_usage_chunk_with_no_choices() -> None:
    body = ask("one two three", stream=True, stream_options={"include_usage": True})
    _, _, text = await post_chat(FakeChatEngine(), body)

    events = parse_sse(text)
    assert events[-1] == "[DONE]"
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    assert events[-3]["choices"][0]["finish_reason"] == "stop"


async def test_stream_and_stream_options_are_not_sent_to_the_engine() -> None:
    engine = FakeChatEngine()
    await post_chat(engine, ask(stream=True, stream_options={"include_usage": True}))

    assert "stream" not in engine.last_request
    assert "stream_options" not in engine.last_request


# --- what the engine receives: catalogue defaults and pass-through fields ---------------------------


async def test_catalogue_defaults_fill_fields_the_client_did_not_set() -> None:
    engine = FakeChatEngine()
    await post_chat(engine, ask())

    sent = engine.last_request
    assert sent["model"] == GEMMA
    assert sent["stop"] == ["\nUser:", "\n\n"]
    assert sent["temperature"] == 0
    assert sent["repetition_penalty"] == 1.1
    assert sent["messages"] == [{"role": "user", "content": "Say hello to the world"}]


async def test_client_sampling_fields_win_over_catalogue_defaults() -> None:
    engine = FakeChatEngine()
    await post_chat(engine, ask(temperature=0.7, repetition_penalty=1.3))

    assert engine.last_request["temperature"] == 0.7
    assert engine.last_request["repetition_penalty"] == 1.3


async def test_explicit_zero_temperature_is_kept() -> None:
    engine = FakeChatEngine("openai/gpt-4o-mini")  # no catalogue temperature default
    fake = build_fake_app([engine])
    async with asgi_client(fake.app) as client:
        await client.post(CHAT, json=ask(model=REMOTE, temperature=0))
        await client.post(CHAT, json=ask(model=REMOTE))

    assert engine.requests[0]["temperature"] == 0
    assert "temperature" not in engine.requests[1]


@pytest.mark.parametrize(("client_stop", "sent_stop"), [
    # README: the router adds the model's stop strings only to requests that set no `stop`;
    # an explicit `stop` replaces them, and `"stop": []` turns them off.
    (["END"], ["END"]),
    ("END", "END"),
    ([], []),
])
async def test_client_stop_replaces_the_catalogue_stop_strings(client_stop: Any, sent_stop: Any) -> None:
    engine = FakeChatEngine()
    await post_chat(engine, ask(stop=client_stop))

    assert engine.last_request["stop"] == sent_stop


async def test_vllm_only_fields_are_passed_through_to_the_engine() -> None:
    engine = FakeChatEngine()
    await post_chat(engine, ask(ignore_eos=True, top_k=5, min_tokens=3, max_tokens=7, seed=11))

    sent = engine.last_request
    assert (sent["ignore_eos"], sent["top_k"], sent["min_tokens"]) == (True, 5, 3)
    assert (sent["max_tokens"], sent["seed"]) == (7, 11)


# --- model "auto" ----------------------------------------------------------------------------------


async def test_auto_picks_the_local_model_and_says_so() -> None:
    local, remote = FakeChatEngine(GEMMA), FakeChatEngine(REMOTE)
    fake = build_fake_app([local, remote])
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=ask(model="auto"))
        samples = await scrape(client)

    assert response.status_code == 200
    assert response.json()["model"] == GEMMA
    assert response.headers["x-stellwerk-model"] == GEMMA
    assert response.headers["x-stellwerk-route"] == "best-value"
    assert response.headers["x-stellwerk-objective"] == "balanced"
    assert local.requests and not remote.requests
    assert local.last_request["model"] == GEMMA
    assert sample(samples, "stellwerk_route_decisions_total", model=GEMMA, reason="best-value") == 1


async def test_auto_goes_remote_when_the_prompt_does_not_fit_the_local_context() -> None:
    local, remote = FakeChatEngine(GEMMA), FakeChatEngine(REMOTE)
    fake = build_fake_app([local, remote])
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=ask(LONG_PROMPT, model="auto"))
        samples = await scrape(client)

    assert response.status_code == 200
    assert response.headers["x-stellwerk-model"] == REMOTE
    assert response.headers["x-stellwerk-route"] == "context-length"
    assert remote.requests and not local.requests
    assert sample(samples, "stellwerk_route_decisions_total", model=REMOTE, reason="context-length") == 1


async def test_auto_with_nothing_long_enough_is_context_length_exceeded() -> None:
    engine = FakeChatEngine()
    status, _, text = await post_chat(engine, ask(LONG_PROMPT, model="auto"))

    assert status == 400
    assert json.loads(text)["error"]["code"] == "context_length_exceeded"
    assert "2048" in json.loads(text)["error"]["message"]
    assert not engine.requests


# --- client disconnects ----------------------------------------------------------------------------


async def call_and_disconnect(app: FastAPI, body: dict[str, Any], disconnect: asyncio.Event) -> int:
    """Drive the ASGI app directly; the client disconnects once `disconnect` is set. Returns the status."""
    payload = json.dumps(body).encode()
    body_sent = False
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": CHAT, "raw_path": CHAT.encode(),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("stellwerk.test", 80),
        "headers": [(b"host", b"stellwerk.test"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode())],
    }
    call = asyncio.ensure_future(app(scope, receive, send))
    # A guard against hanging, not a timing (the engine would take 60 s). NOTE: not wait_for: its
    # cancellation also stops the engine, and the test would pass without the router's disconnect check.
    done, _ = await asyncio.wait({call}, timeout=10)
    assert call in done, "the router did not end the request when its client disconnected"
    call.result()
    assert len(statuses) == 1
    return statuses[0]


@pytest.mark.parametrize("stream", [True, False])
async def test_client_disconnect_stops_the_engine(stream: bool) -> None:
    engine = FakeChatEngine(delay_s=60)  # would take minutes unless the router stops it
    fake = build_fake_app([engine])

    status = await call_and_disconnect(fake.app, ask(stream=stream), engine.waiting_for_next)
    await asyncio.wait_for(engine.finished.wait(), timeout=10)

    assert status == (200 if stream else 499)
    assert engine.stopped_early and not engine.completed
    registry = fake.metrics.registry
    labels = {"endpoint": "chat", "model": GEMMA}
    assert registry.get_sample_value("stellwerk_requests_total", {**labels, "status": "499"}) == 1
    assert registry.get_sample_value("stellwerk_request_errors_total", {**labels, "type": "cancelled"}) == 1
    assert registry.get_sample_value("stellwerk_requests_in_flight", labels) == 0


async def test_a_finished_stream_is_not_reported_as_stopped_early() -> None:
    engine = FakeChatEngine()
    await post_chat(engine, ask(stream=True))

    assert engine.completed and not engine.stopped_early
