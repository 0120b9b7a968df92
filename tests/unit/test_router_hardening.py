"""Inputs and engine output that used to end in a 500, a cut stream or a leaked gauge (issue 13):
lone surrogates both ways, the body limit, authentication before the body, refusals in the ledger."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.chat.text import REPLACEMENT, clean_text, lone_surrogate_path
from router.edge import EdgeLimits
from router.run_events import RunError
from router.sse import DONE, openai_error_body, sse_event, sse_stream
from serving.engine import ChatChunk, EngineStats, ToolCallDelta, Usage
from tests.fakes import (
    FakeChatEngine,
    FakeEmbeddingEngine,
    asgi_client,
    build_fake_app,
    parse_sse,
    sample,
    scrape,
)
from tests.tenancy_fakes import TenantApp, tenant_app

GEMMA = "gemma-3-270m"
CHAT = "/v1/chat/completions"
BAD = "bad \ud800 text"  # a lone high surrogate, as json.loads returns it for "bad \\ud800 text"


class ScriptedEngine:
    """A `ChatEngine` that yields the chunks it was given (engine output a provider could produce)."""

    def __init__(self, model_id: str, chunks: list[ChatChunk]) -> None:
        self.model_id = model_id
        self.chunks = chunks
        self.closed = False

    async def chat(self, request: Mapping[str, Any]) -> AsyncIterator[ChatChunk]:
        try:
            for chunk in self.chunks:
                yield chunk
        finally:
            self.closed = True

    async def check_health(self) -> None:
        return None

    async def stats(self) -> EngineStats:
        return EngineStats(running=0, waiting=0, replicas=1)


def surrogate_engine() -> ScriptedEngine:
    return ScriptedEngine(GEMMA, [
        ChatChunk(role="assistant"), ChatChunk(text=BAD),
        ChatChunk(tool_calls=(ToolCallDelta(0, id="call_1", name="f\udc00", arguments='{"a": "\udbff"}'),)),
        ChatChunk(finish_reason="stop"), ChatChunk(usage=Usage(3, 4))])


TENANTS = "tenants:\n  acme: {}\n"


@pytest.fixture
def ts(tmp_path: Path) -> TenantApp:
    return tenant_app(tmp_path, TENANTS, [FakeChatEngine(GEMMA)], [FakeEmbeddingEngine()])


def ask(**fields: Any) -> dict[str, Any]:
    return {"model": GEMMA, "messages": [{"role": "user", "content": "one two three"}], **fields}


# --- 1. a lone surrogate from the engine ---------------------------------------------------------------


def test_clean_text_replaces_only_lone_surrogates() -> None:
    assert clean_text("plain") == "plain"
    assert clean_text("émoji 😀 ok") == "émoji 😀 ok"
    assert clean_text(BAD) == f"bad {REPLACEMENT} text"
    assert clean_text("\udc00\ud800") == REPLACEMENT * 2


@pytest.mark.asyncio
async def test_surrogate_from_the_engine_non_streaming_is_a_valid_answer(tmp_path: Path) -> None:
    ts = tenant_app(tmp_path, TENANTS, [])
    engine = surrogate_engine()
    ts.fake.registry._chat[GEMMA] = engine
    key = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        response = await client.post(CHAT, json=ask(), headers={"authorization": f"Bearer {key}"})
        samples = await scrape(client)

    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert message["content"] == f"bad {REPLACEMENT} text"
    assert message["tool_calls"][0]["function"] == {"name": f"f{REPLACEMENT}",
                                                    "arguments": f'{{"a": "{REPLACEMENT}"}}'}
    assert sample(samples, "stellwerk_requests_in_flight", endpoint="chat", model=GEMMA) == 0
    rows = ts.ledger_rows(at_least=1)
    assert [(r["status"], r["completion_tokens"]) for r in rows] == [(200, 4)]


@pytest.mark.asyncio
@pytest.mark.parametrize("path", [CHAT, "/v1/messages"])
async def test_surrogate_from_the_engine_streaming_ends_properly_and_settles_once(
        tmp_path: Path, path: str) -> None:
    ts = tenant_app(tmp_path, TENANTS, [])
    engine = surrogate_engine()
    ts.fake.registry._chat[GEMMA] = engine
    key = ts.key("acme")
    body = ask(stream=True) if path == CHAT else {
        "model": GEMMA, "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(ts.fake.app) as client:
        response = await client.post(path, json=body, headers={"authorization": f"Bearer {key}"})
        samples = await scrape(client)

    assert response.status_code == 200
    text = response.content.decode("utf-8")  # valid UTF-8 all the way
    assert REPLACEMENT in text
    if path == CHAT:
        events = parse_sse(text)
        assert events[-1] == "[DONE]"
        assert not [e for e in events[:-1] if "error" in e]
    else:
        assert text.rstrip().endswith('{"type":"message_stop"}')
    assert engine.closed
    assert sample(samples, "stellwerk_requests_in_flight", endpoint="chat", model=GEMMA) == 0
    assert sample(samples, "stellwerk_requests_total", endpoint="chat", model=GEMMA, status="200") == 1
    # The row is committed before the stream's end, not when a generator is garbage-collected.
    assert [r["status"] for r in ts.ledger_rows()] == [200]


class _JsonEvents:
    """Events that are already OpenAI-shaped JSON objects: each as one `data:` frame, then `[DONE]`."""

    def frames(self, event: dict[str, Any]) -> bytes:
        return sse_event(event)

    def failure(self, error: RunError) -> bytes:
        return sse_event(openai_error_body(error))

    def end(self) -> bytes:
        return DONE


@pytest.mark.asyncio
async def test_an_event_that_cannot_be_encoded_becomes_an_error_event_then_done() -> None:
    async def events() -> AsyncGenerator[dict[str, Any], None]:
        yield {"ok": 1}
        yield {"bad": BAD}  # only a bug could bring this here: engine text is cleaned first
        yield {"never": 1}

    frames = [frame async for frame in sse_stream(events(), _JsonEvents())]
    parsed = parse_sse(b"".join(frames).decode())
    assert parsed[0] == {"ok": 1}
    assert parsed[1]["error"]["code"] == "internal_error"
    assert parsed[2] == "[DONE]"


# --- 2. a lone surrogate in the request ---------------------------------------------------------------


def test_lone_surrogate_path_names_the_field() -> None:
    found = lone_surrogate_path({"messages": [{"content": "ok"}, {"content": BAD}]})
    assert found == ("messages", "1", "content")
    assert lone_surrogate_path({"a": ["😀"]}) is None


def raw(body: str) -> bytes:
    """A JSON body written with escapes, as a client would send a lone surrogate (UTF-8 cannot carry one)."""
    return body.encode()


SURROGATE_BODIES = {
    CHAT: (r'{"model": "auto", "messages": [{"role": "user", "content": "bad \ud800 text"}]}',
           "messages.0.content"),
    "/v1/route": (r'{"model": "auto", "messages": [{"role": "user", "content": "x \uDFFF"}]}',
                  "messages.0.content"),
    "/v1/messages": (r'{"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": '
                     r'[{"type": "text", "text": "\ud83d"}]}]}', "messages.0.content.0.text"),
    "/v1/embeddings": (r'{"model": "all-minilm-l6-v2", "input": ["fine", "\udc00"]}', "input.1"),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("path", sorted(SURROGATE_BODIES))
async def test_lone_surrogate_in_the_request_is_400_naming_the_field(ts: TenantApp, path: str) -> None:
    body, field = SURROGATE_BODIES[path]
    key = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        response = await client.post(path, content=raw(body), headers={
            "authorization": f"Bearer {key}", "content-type": "application/json"})

    assert response.status_code == 400, response.text
    if path == "/v1/messages":
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert field in response.json()["error"]["message"]
    else:
        assert response.json()["error"]["param"] == field
    rows = ts.ledger_rows(at_least=1)
    assert [(r["tenant"], r["status"]) for r in rows] == [("acme", 400)]


@pytest.mark.asyncio
async def test_a_valid_surrogate_pair_is_fine(ts: TenantApp) -> None:
    key = ts.key("acme")
    body = r'{"model": "gemma-3-270m", "messages": [{"role": "user", "content": "smile \ud83d\ude00"}]}'
    async with asgi_client(ts.fake.app) as client:
        response = await client.post(CHAT, content=raw(body), headers={
            "authorization": f"Bearer {key}", "content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "smile 😀"


# --- 5. the body: its size, and authentication first -------------------------------------------------


async def call_raw(app: Any, headers: dict[str, str], parts: list[bytes], *,
                   complete: bool = True) -> tuple[int, bytes, int]:
    """Call the ASGI app directly; returns (status, body, how many body parts it asked for).
    With `complete=False` the body never ends (the client stalls after `parts`)."""
    asked = 0
    queue = list(parts)

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if queue:
            return {"type": "http.request", "body": queue.pop(0), "more_body": bool(queue) or not complete}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": CHAT, "raw_path": CHAT.encode(), "query_string": b"",
             "root_path": "", "server": ("test", 80), "client": ("127.0.0.1", 1),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    await asyncio.wait_for(app(scope, receive, send), 10)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body, asked


@pytest.mark.asyncio
async def test_unauthenticated_request_is_refused_before_its_body_is_read(ts: TenantApp) -> None:
    status, body, asked = await call_raw(ts.fake.app, {"content-type": "application/json",
                                                        "content-length": "1000000"}, [b"{" * 1000])
    assert status == 401
    assert json.loads(body)["error"]["code"] == "invalid_api_key"
    assert asked == 0
    rows = ts.ledger_rows(at_least=1)
    assert [(r["tenant"], r["status"], r["endpoint"]) for r in rows] == [("(unauthenticated)", 401, "chat")]


@pytest.mark.asyncio
@pytest.mark.parametrize("declared", [True, False])
async def test_body_over_the_limit_is_413(tmp_path: Path, declared: bool) -> None:
    ts = tenant_app(tmp_path, TENANTS, [FakeChatEngine(GEMMA)], limits=EdgeLimits(max_body_bytes=1000))
    key = ts.key("acme")
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    if declared:
        headers["content-length"] = "5000"
    status, body, asked = await call_raw(ts.fake.app, headers, [b" " * 600, b" " * 600, b"{}"])
    assert status == 413
    assert json.loads(body)["error"]["code"] == "request_too_large"
    assert asked == (0 if declared else 2)  # never more than the limit is read


@pytest.mark.asyncio
async def test_body_over_the_limit_is_413_in_anthropic_shape(tmp_path: Path) -> None:
    fake = build_fake_app([FakeChatEngine(GEMMA)], limits=EdgeLimits(max_body_bytes=100))
    async with asgi_client(fake.app) as client:
        response = await client.post("/v1/messages", content=b"{" + b" " * 200 + b"}",
                                     headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"type": "error", "error": {"type": "request_too_large",
                                                          "message": response.json()["error"]["message"]}}


@pytest.mark.asyncio
async def test_a_body_that_drips_is_408(tmp_path: Path) -> None:
    ts = tenant_app(tmp_path, TENANTS, [FakeChatEngine(GEMMA)], limits=EdgeLimits(body_timeout_s=0.2))
    key = ts.key("acme")
    status, body, _ = await call_raw(ts.fake.app, {"authorization": f"Bearer {key}"}, [b"{"], complete=False)
    assert status == 408
    assert json.loads(body)["error"]["code"] == "request_timeout"


@pytest.mark.asyncio
async def test_invalid_request_is_recorded_in_the_ledger(ts: TenantApp) -> None:
    key = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        response = await client.post(CHAT, json=ask(temperature=9),
                                     headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 400
    rows = ts.ledger_rows(at_least=1)
    assert [(r["tenant"], r["model"], r["status"]) for r in rows] == [("acme", GEMMA, 400)]


# --- 8. an unexpected error does not escape the app --------------------------------------------------


@pytest.mark.asyncio
async def test_unexpected_error_is_answered_and_not_raised_to_the_server() -> None:
    fake = build_fake_app([FakeChatEngine(GEMMA, error=KeyError("boom"))])
    transport = httpx.ASGITransport(app=fake.app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(CHAT, json=ask())  # would raise here if the app re-raised
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"


# --- 3. /v1/messages: malformed blocks and unknown fields ---------------------------------------------


def messages_body(content: Any, **fields: Any) -> dict[str, Any]:
    return {"model": GEMMA, "max_tokens": 10, "messages": [{"role": "user", "content": content}], **fields}


@pytest.mark.asyncio
@pytest.mark.parametrize(("body", "words"), [
    (messages_body([{"type": "image", "source": "http://x/y.png"}]), "source"),
    (messages_body([{"type": "image"}]), "source"),
    (messages_body([{"type": "tool_result", "tool_use_id": "t", "content": ["text", 1]}]), "tool_result"),
    (messages_body("hi", service_tier="priority", top_logprobs=3), "service_tier, top_logprobs"),
])
async def test_messages_refuses_what_it_cannot_translate_with_400(body: dict[str, Any], words: str) -> None:
    fake = build_fake_app([FakeChatEngine(GEMMA)])
    async with asgi_client(fake.app) as client:
        response = await client.post("/v1/messages", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert words in response.json()["error"]["message"]


# --- 4. /status without the admin key -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_status_shows_details_only_with_the_admin_key(ts: TenantApp) -> None:
    from tests.tenancy_fakes import ADMIN_KEY

    async with asgi_client(ts.fake.app) as client:
        anonymous = await client.get("/status")
        wrong = await client.get("/status", headers={"authorization": "Bearer nope"})
        admin = await client.get("/status", headers={"authorization": f"Bearer {ADMIN_KEY}"})

    assert anonymous.status_code == 200
    assert set(anonymous.json()) == {"status", "ready", "version"}
    assert wrong.json() == anonymous.json()
    assert "acme" in admin.json()["tenancy"]["tenants"]
    assert {"status", "ready", "version", "models", "routing", "tenancy"} <= set(admin.json())


# --- 5. the context length of a named model -----------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("model", [GEMMA, "openai/gpt-4o-mini"])
async def test_a_prompt_that_cannot_fit_a_named_model_is_not_forwarded(model: str) -> None:
    engine = FakeChatEngine(model)
    fake = build_fake_app([engine])
    context = fake.registry.chat_engine(model)[0].capabilities.context_length
    body = {"model": model, "messages": [{"role": "user", "content": "word " * (2 * context)}]}
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert engine.requests == []


# --- the error tree and the aggregate fallback error ---------------------------------------------------


def test_the_error_tree_drawn_in_the_docstring_matches_the_classes() -> None:
    import re

    from serving import errors

    doc = errors.__doc__ or ""
    parents: list[tuple[int, str]] = []
    drawn: list[str] = []
    for line in doc.splitlines():
        match = re.match(r"^[\s│├└─]*([A-Z]\w+)", line)
        if match is None or not isinstance(getattr(errors, match.group(1), None), type):
            continue
        name, column = match.group(1), match.start(1)
        while parents and parents[-1][0] >= column:
            parents.pop()
        if parents:
            assert getattr(errors, name).__bases__ == (getattr(errors, parents[-1][1]),), name
        parents.append((column, name))
        drawn.append(name)
    classes = [n for n in errors.__all__ if isinstance(getattr(errors, n), type)]
    assert sorted(drawn) == sorted(classes), "every error class is drawn once"


@pytest.mark.asyncio
async def test_when_every_fallback_candidate_fails_one_error_lists_each() -> None:
    from serving.errors import EngineUnavailable, RateLimited, UpstreamTimeout

    engines = [FakeChatEngine(GEMMA, error=UpstreamTimeout("slow one")),
               FakeChatEngine("openai/gpt-4o-mini", error=RateLimited("limited one", retry_after_s=7)),
               FakeChatEngine("gemini/gemini-2.5-flash", error=EngineUnavailable("down one"))]
    fake = build_fake_app(engines, category="chit_chat")
    async with asgi_client(fake.app) as client:
        # The floor-based objective tries the cheapest first: Gemma, then gpt-4o-mini, then Flash last.
        response = await client.post(CHAT, json={**ask(), "model": "auto"},
                                     headers={"x-stellwerk-objective": "good-enough"})

    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "all_candidates_failed"
    for words in ("slow one", "limited one", "down one", GEMMA, "openai/gpt-4o-mini"):
        assert words in error["message"]


# --- 6. bounded streams: per-tenant cap, a deadline for the whole answer -------------------------------


@pytest.mark.asyncio
async def test_a_tenant_over_its_stream_cap_gets_429_and_non_streaming_still_works() -> None:
    from router.chat.accounted import StreamSettings, StreamSlots

    slots = StreamSlots(per_tenant=1)
    fake = build_fake_app([FakeChatEngine(GEMMA)], streams=StreamSettings(slots=slots))
    slots.acquire("default")  # another stream of the same tenant is open
    async with asgi_client(fake.app) as client:
        refused = await client.post(CHAT, json=ask(stream=True))
        plain = await client.post(CHAT, json=ask())
        slots.release("default")
        allowed = await client.post(CHAT, json=ask(stream=True))

    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert plain.status_code == 200 and allowed.status_code == 200
    assert slots.held("default") == 0  # the finished stream gave its slot back


@pytest.mark.asyncio
async def test_the_deadline_for_the_whole_answer_ends_a_stream_and_settles_it_as_504(tmp_path: Path) -> None:
    from router.chat.accounted import StreamSettings

    engine = FakeChatEngine(GEMMA, delay_s=0.05)
    ts = tenant_app(tmp_path, TENANTS, [engine], streams=StreamSettings(deadline_s=0.3))
    key = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        response = await client.post(CHAT, json={**ask(stream=True), "messages": [
            {"role": "user", "content": " ".join(["word"] * 200)}]},
            headers={"authorization": f"Bearer {key}"})
        samples = await scrape(client)

    assert response.status_code == 200
    events = parse_sse(response.text)
    assert events[-1] == "[DONE]" and events[-2]["error"]["code"] == "stream_deadline"
    assert engine.stopped_early
    assert sample(samples, "stellwerk_requests_in_flight", endpoint="chat", model=GEMMA) == 0
    assert [r["status"] for r in ts.ledger_rows(at_least=1)] == [504]


# --- /openapi.json documents the real errors ------------------------------------------------------------


@pytest.mark.asyncio
async def test_openapi_documents_the_real_error_responses_and_no_422() -> None:
    fake = build_fake_app([FakeChatEngine(GEMMA)])
    async with asgi_client(fake.app) as client:
        schema = (await client.get("/openapi.json")).json()

    for path in ("/v1/chat/completions", "/v1/messages", "/v1/embeddings", "/v1/route"):
        responses = schema["paths"][path]["post"]["responses"]
        assert "422" not in responses, path
        assert {"400", "401", "413", "429", "502", "503", "504"} <= set(responses), path
    messages_error = schema["paths"]["/v1/messages"]["post"]["responses"]["400"]
    assert "type" in messages_error["content"]["application/json"]["schema"]["required"]


@pytest.mark.asyncio
async def test_a_mid_stream_error_on_messages_keeps_its_kind() -> None:
    from serving.errors import EngineUnavailable

    failing = FakeChatEngine(GEMMA, error=EngineUnavailable("replica restarting"), fail_after=1)
    fake = build_fake_app([failing])
    body = {"model": GEMMA, "max_tokens": 10, "stream": True,
            "messages": [{"role": "user", "content": "one two three"}]}
    async with asgi_client(fake.app) as client:
        response = await client.post("/v1/messages", json=body)
    error = json.loads(response.text.split("event: error\ndata: ")[1].split("\n\n")[0])
    assert error["error"]["type"] == "overloaded_error"
