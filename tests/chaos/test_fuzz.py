"""Property-based fuzzing of every route of the real router app (fake engines behind it): whatever the
request, never a 5xx, and every error is OpenAI- (or, on /v1/messages, Anthropic-) shaped.

CI runs a short seeded run (`STELLWERK_FUZZ_EXAMPLES`, default 150 per test, derandomized);
`make fuzz` runs ≥ 100,000 requests (`STELLWERK_FUZZ_EXAMPLES=20000` for each of the five tests).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import FakeChatEngine, FakeEmbeddingEngine, asgi_client, build_fake_app

EXAMPLES = int(os.environ.get("STELLWERK_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 1000, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
MODELS = ["gemma-3-270m", "openai/gpt-4o-mini", "anthropic/claude-3.5-haiku", "auto", "no-such-model",
          "all-minilm-l6-v2", ""]
POSTS = ["/v1/chat/completions", "/v1/messages", "/v1/embeddings", "/v1/route"]
GETS = ["/v1/models", "/v1/models?all=true", "/health", "/ready", "/status", "/metrics", "/v1/costs",
        "/admin/keys", "/nope", "/v1/chat/completions"]

PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126)
# Text that exercises encoders and tokenizers: emoji, combining marks, NUL, RTL, lone surrogates.
texts = st.one_of(st.text(max_size=40), st.sampled_from(
    ["😀", "e\u0301", "\x00", "\u202e", "\ud800", "\udfff x", "FAULT:hang", "a" * 5000, ""]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=12)


def _part() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": texts | json_values}),
        st.fixed_dictionaries({"type": st.just("image_url"), "image_url": json_values | st.fixed_dictionaries(
            {"url": st.sampled_from(["data:image/png;base64,AAAA", "http://x/y.png", "nope"]) | texts})}),
        st.fixed_dictionaries({"type": st.sampled_from(["image", "tool_result", "tool_use", "input_audio",
                                                        "document"]) | texts,
                               "source": json_values, "content": json_values, "id": json_values,
                               "name": json_values, "input": json_values}),
        json_values)


messages = st.lists(st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "tool", "developer"]) | texts,
     "content": st.one_of(texts, st.lists(_part(), max_size=3), json_values)},
    optional={"tool_calls": json_values, "tool_call_id": json_values, "name": json_values}), max_size=3)

chat_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(MODELS) | texts, "messages": messages},
    optional={"stream": st.booleans() | json_values, "max_tokens": st.integers(-5, 10**7) | json_values,
              "temperature": json_values, "tools": json_values, "tool_choice": json_values,
              "response_format": json_values, "stop": json_values, "n": json_values,
              "stream_options": json_values, "top_p": json_values, "logprobs": json_values,
              "system": json_values, "thinking": json_values, "stop_sequences": json_values,
              "input": json_values, "encoding_format": json_values, "dimensions": json_values,
              "metadata": json_values, "tool_choice_extra": json_values})


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def client(loop: asyncio.AbstractEventLoop) -> Iterator[httpx.AsyncClient]:
    engines = [FakeChatEngine(m) for m in MODELS[:3]] + [FakeChatEngine("gemini/gemini-2.5-flash")]
    fake = build_fake_app(engines, [FakeEmbeddingEngine()], category="chit_chat")
    manager = asgi_client(fake.app)
    entered = loop.run_until_complete(manager.__aenter__())
    yield entered
    loop.run_until_complete(manager.__aexit__(None, None, None))


def check(response: httpx.Response, path: str) -> None:
    """No 5xx; a JSON error in the dialect's shape; a stream that ends properly."""
    assert response.status_code < 500, (path, response.status_code, response.text[:500])
    kind = response.headers.get("content-type", "")
    if response.status_code >= 400:
        body = response.json()
        if path.startswith("/v1/messages"):
            assert body["type"] == "error" and isinstance(body["error"]["message"], str), body
        else:
            assert set(body["error"]) == {"message", "type", "param", "code"}, body
    elif kind.startswith("text/event-stream"):
        response.content.decode("utf-8")  # valid UTF-8
        if not path.startswith("/v1/messages"):
            assert response.text.endswith("data: [DONE]\n\n"), response.text[-200:]


def post(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient, path: str, content: bytes) -> None:
    response = loop.run_until_complete(client.post(path, content=content,
                                                   headers={"content-type": "application/json"}))
    check(response, path)


@FUZZ
@given(path=st.sampled_from(POSTS), body=chat_bodies)
def test_structured_bodies_never_5xx(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient, path: str,
                                     body: dict[str, Any]) -> None:
    post(loop, client, path, json.dumps(body).encode())


@FUZZ
@given(path=st.sampled_from(POSTS), body=json_values)
def test_any_json_never_5xx(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient, path: str,
                            body: Any) -> None:
    post(loop, client, path, json.dumps(body).encode())


@FUZZ
@given(path=st.sampled_from(POSTS), raw=st.binary(max_size=200) | st.sampled_from(
    [b'{"model": "auto", "messages": [{"role": "user", "content": "\\ud800"}]}', b"{" * 5000, b"[]", b"",
     b'{"model": "auto", "messages": [{"role": "user", "content": "\\udc00\\ud800"}], "stream": true}']))
def test_any_bytes_never_5xx(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient, path: str,
                             raw: bytes) -> None:
    post(loop, client, path, raw)


@FUZZ
@given(path=st.sampled_from(GETS), method=st.sampled_from(["GET", "DELETE", "PUT", "PATCH", "POST"]),
       headers=st.dictionaries(st.sampled_from(["authorization", "x-api-key", "x-stellwerk-objective",
                                                "content-type"]),
                               st.text(alphabet=PRINTABLE, max_size=30),
                               max_size=3))
def test_any_route_and_method_never_5xx(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient, path: str,
                                        method: str, headers: dict[str, str]) -> None:
    response = loop.run_until_complete(client.request(method, path, headers=headers))
    check(response, path)


@FUZZ
@given(body=chat_bodies, objective=st.sampled_from(["balanced", "cheapest", "local-only", "fastest", ""]))
def test_auto_routing_with_any_objective_never_5xx(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient,
                                                   body: dict[str, Any], objective: str) -> None:
    body = {**body, "model": "auto"}
    response = loop.run_until_complete(client.post(
        "/v1/chat/completions", content=json.dumps(body).encode(),  # escapes surrogates, writes Infinity
        headers={"x-stellwerk-objective": objective, "content-type": "application/json"}))
    check(response, "/v1/chat/completions")


