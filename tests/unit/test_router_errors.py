"""Errors from /v1/chat/completions: OpenAI-shaped bodies with the right status, never a stack trace."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from serving.errors import (
    ContextLengthExceeded,
    EngineFailed,
    EngineUnavailable,
    InvalidRequest,
    StellwerkError,
)
from tests.fakes import (
    FakeApp,
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
CHAT = "/v1/chat/completions"
SECRET = "db-password=hunter2 in /srv/secret/path.py"


def ask(**fields: Any) -> dict[str, Any]:
    return {"model": GEMMA, "messages": [{"role": "user", "content": "one two three"}], **fields}


def assert_openai_error(response: httpx.Response, status: int, *, code: str | None = None,
                        param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    return dict(error)


async def post(fake: FakeApp, body: Any = None, *, content: bytes | None = None,
               raise_app_exceptions: bool = True) -> httpx.Response:
    async with asgi_client(fake.app, raise_app_exceptions=raise_app_exceptions) as client:
        if content is not None:
            return await client.post(CHAT, content=content, headers={"content-type": "application/json"})
        return await client.post(CHAT, json=body)


# --- the request itself ------------------------------------------------------------------------------


async def test_malformed_json_is_400_saying_so() -> None:
    engine = FakeChatEngine()
    response = await post(build_fake_app([engine]), content=b'{"model": "gemma-3-270m", "messages": [')

    error = assert_openai_error(response, 400)
    assert error["type"] == "invalid_request_error"
    assert "not valid JSON" in error["message"]
    assert not engine.requests


@pytest.mark.parametrize(("body", "field"), [
    ({"model": GEMMA}, "messages"),
    (ask(messages=[]), "messages"),
    (ask(temperature=3), "temperature"),
    (ask(temperature="hot"), "temperature"),
    (ask(n=2), "n"),
    (ask(max_tokens=0), "max_tokens"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
])
async def test_invalid_fields_are_400_naming_the_field(body: dict[str, Any], field: str) -> None:
    engine = FakeChatEngine()
    response = await post(build_fake_app([engine]), body)

    error = assert_openai_error(response, 400, param=field)
    assert error["type"] == "invalid_request_error"
    assert field in error["message"]
    assert not engine.requests


async def test_unknown_model_is_404_listing_the_available_models() -> None:
    fake = build_fake_app([FakeChatEngine()], [FakeEmbeddingEngine()])
    response = await post(fake, ask(model="gpt-17-ultra"))

    error = assert_openai_error(response, 404, code="model_not_found", param="model")
    assert "gpt-17-ultra" in error["message"]
    assert "auto" in error["message"]
    assert GEMMA in error["message"]
    assert "llama-3.1-8b-instruct" not in error["message"]  # listed, but not servable here


async def test_known_but_unavailable_model_is_404_with_the_reason() -> None:
    reason = "needs a GPU; none was found on this machine"
    fake = build_fake_app([FakeChatEngine()], reasons={"llama-3.1-8b-instruct": reason})
    response = await post(fake, ask(model="local/llama-3.1-8b-instruct"))

    error = assert_openai_error(response, 404, code="model_not_available", param="model")
    assert "llama-3.1-8b-instruct" in error["message"]
    assert reason in error["message"]


async def test_embedding_model_used_for_chat_is_400() -> None:
    fake = build_fake_app([FakeChatEngine()], [FakeEmbeddingEngine()])
    response = await post(fake, ask(model="text-embedding-minilm"))

    error = assert_openai_error(response, 400, param="model")
    assert "/v1/embeddings" in error["message"]


async def test_unknown_route_and_wrong_method_are_openai_shaped() -> None:
    fake = build_fake_app([FakeChatEngine()])
    async with asgi_client(fake.app) as client:
        missing = await client.get("/v1/nothing-here")
        wrong_method = await client.get(CHAT)

    assert_openai_error(missing, 404, code="not_found")
    assert_openai_error(wrong_method, 405, code="method_not_allowed")


# --- engine failures before the first byte -----------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_context_too_long_from_the_engine_is_400(stream: bool) -> None:
    engine = FakeChatEngine(error=ContextLengthExceeded("prompt is 3000 tokens; context is 2048",
                                                        param="messages"))
    response = await post(build_fake_app([engine]), ask(stream=stream))

    error = assert_openai_error(response, 400, code="context_length_exceeded", param="messages")
    assert "2048" in error["message"]


@pytest.mark.parametrize("stream", [False, True])
async def test_engine_unavailable_is_503_with_retry_after(stream: bool) -> None:
    engine = FakeChatEngine(unavailable="the deployment for this model is DEPLOYING; retry shortly")
    response = await post(build_fake_app([engine]), ask(stream=stream))

    error = assert_openai_error(response, 503, code="engine_unavailable")
    assert "DEPLOYING" in error["message"]
    assert int(response.headers["retry-after"]) > 0


@pytest.mark.parametrize("stream", [False, True])
async def test_engine_error_before_the_first_byte_is_502(stream: bool) -> None:
    engine = FakeChatEngine(error=EngineFailed("the engine failed: CUDA error"))
    fake = build_fake_app([engine])
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=ask(stream=stream))
        samples = await scrape(client)

    error = assert_openai_error(response, 502, code="engine_error")
    assert error["type"] == "upstream_error"
    labels = {"endpoint": "chat", "model": GEMMA}
    assert sample(samples, "stellwerk_requests_total", **labels, status="502") == 1
    assert sample(samples, "stellwerk_request_errors_total", **labels, type="upstream_error") == 1
    assert sample(samples, "stellwerk_requests_in_flight", **labels) == 0


async def test_engine_that_ends_without_any_chunk_is_502() -> None:
    fake = build_fake_app([FakeChatEngine(empty=True)])
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=ask())
        samples = await scrape(client)

    assert_openai_error(response, 502, code="engine_error")
    assert sample(samples, "stellwerk_requests_total", endpoint="chat", model=GEMMA, status="502") == 1


async def test_no_first_chunk_in_time_is_504_and_stops_the_engine() -> None:
    engine = FakeChatEngine(hang=True)
    fake = build_fake_app([engine], first_chunk_timeout_s=0.05)
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=ask())
        samples = await scrape(client)

    assert_openai_error(response, 504, code="upstream_timeout")
    assert engine.stopped_early
    assert sample(samples, "stellwerk_requests_total", endpoint="chat", model=GEMMA, status="504") == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_unexpected_exception_in_an_engine_is_a_generic_500(
        stream: bool, caplog: pytest.LogCaptureFixture) -> None:
    engine = FakeChatEngine(error=KeyError(SECRET))
    fake = build_fake_app([engine])
    async with asgi_client(fake.app, raise_app_exceptions=False) as client:
        response = await client.post(CHAT, json=ask(stream=stream))
        samples = await scrape(client)

    error = assert_openai_error(response, 500, code="internal_error")
    assert "internal error" in error["message"]
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "KeyError" not in response.text
    assert "hunter2" in caplog.text  # the operator still gets the details, in the log
    assert sample(samples, "stellwerk_requests_total", endpoint="chat", model=GEMMA, status="500") == 1
    assert sample(samples, "stellwerk_requests_total", endpoint="chat", model=GEMMA, status="499") == 0


# --- engine failures after the first byte ------------------------------------------------------------


async def test_error_mid_stream_is_one_sse_error_event_then_done() -> None:
    engine = FakeChatEngine(error=EngineFailed("the engine failed: replica died"), fail_after=2)
    fake = build_fake_app([engine])
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=ask(stream=True))
        samples = await scrape(client)

    assert response.status_code == 200
    events = parse_sse(response.text)
    assert events[-1] == "[DONE]"
    error_events = [e for e in events[:-1] if "error" in e]
    assert error_events == [events[-2]]
    assert events[-2]["error"]["code"] == "engine_error"
    assert "replica died" in events[-2]["error"]["message"]
    content = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-2])
    assert content == "one two"
    assert all(e["choices"][0]["finish_reason"] is None for e in events[:-2])
    labels = {"endpoint": "chat", "model": GEMMA}
    assert sample(samples, "stellwerk_requests_total", **labels, status="502") == 1
    assert sample(samples, "stellwerk_requests_total", **labels, status="200") == 0
    assert sample(samples, "stellwerk_requests_in_flight", **labels) == 0


async def test_unexpected_exception_mid_stream_is_a_generic_error_event_then_done() -> None:
    engine = FakeChatEngine(error=RuntimeError(SECRET), fail_after=1)
    fake = build_fake_app([engine])
    async with asgi_client(fake.app) as client:
        response = await client.post(CHAT, json=ask(stream=True))
        samples = await scrape(client)

    assert response.status_code == 200
    events = parse_sse(response.text)
    assert events[-1] == "[DONE]"
    assert events[-2]["error"]["code"] == "internal_error"
    assert "hunter2" not in response.text
    assert sample(samples, "stellwerk_requests_total", endpoint="chat", model=GEMMA, status="500") == 1
    assert sample(samples, "stellwerk_requests_total", endpoint="chat", model=GEMMA, status="200") == 0


async def test_error_mid_answer_without_streaming_is_a_real_status() -> None:
    engine = FakeChatEngine(error=EngineFailed("the engine failed: replica died"), fail_after=1)
    response = await post(build_fake_app([engine]), ask())

    assert_openai_error(response, 502, code="engine_error")


@pytest.mark.parametrize("error", [
    InvalidRequest("bad", param="x"),
    ContextLengthExceeded("too long"),
    EngineUnavailable("down"),
    EngineFailed("broken"),
])
async def test_error_body_matches_the_error_tree(error: StellwerkError) -> None:
    response = await post(build_fake_app([FakeChatEngine(error=error)]), ask())

    body = assert_openai_error(response, error.status_code, code=error.code, param=error.param)
    assert body["type"] == error.error_type
    assert body["message"] == error.message
