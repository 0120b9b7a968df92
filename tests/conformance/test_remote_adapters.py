"""Every remote adapter passes the same tests, against a local fake of its provider's wire protocol.

The fakes (tests/fake_providers/) script their behaviour by model name; see their docstrings. Each case
opts out of a check through capability flags when the provider cannot do it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from models.catalogue import ModelEntry
from serving.engine import ChatChunk
from serving.errors import (
    ContentFiltered,
    EngineFailed,
    EngineUnavailable,
    InvalidRequest,
    ModelUnavailable,
    RateLimited,
    StellwerkError,
    UpstreamAuthFailed,
    UpstreamTimeout,
)
from serving.remote.base import RemoteChatEngine, Timeouts
from serving.remote.registry import adapter_class
from tests.fake_providers.runner import serve_app

KEY = "test-key"
USER = [{"role": "user", "content": "hello there"}]
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@dataclass(frozen=True)
class Case:
    type: str
    fake: str  # module under tests.fake_providers with create_app()
    base_path: str  # appended to the fake's root URL to form the catalogue base_url
    content_filter_is_error: bool  # refusal comes as a 4xx (True) or as finish_reason (False)


CASES = [
    Case("openai", "openai_server", "/v1", content_filter_is_error=True),
    Case("openai-compatible", "openai_server", "/v1", content_filter_is_error=True),
    Case("openai-responses", "openai_server", "/v1", content_filter_is_error=True),
    Case("anthropic", "anthropic_server", "", content_filter_is_error=False),
    Case("gemini", "gemini_server", "", content_filter_is_error=False),
]


@pytest.fixture(params=CASES, ids=[c.type for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    c: Case = request.param
    return c


@pytest.fixture
def base_url(case: Case) -> Iterator[str]:
    app = importlib.import_module(f"tests.fake_providers.{case.fake}").create_app(expected_key=KEY)
    with serve_app(app) as url:
        yield url + case.base_path


def engine_for(case: Case, base_url: str, client: httpx.AsyncClient, model: str, *,
               key: str = KEY, read_timeout_s: float = 10.0) -> RemoteChatEngine:
    entry = ModelEntry.model_validate({
        "id": f"{case.type}/{model}", "kind": "remote", "provider": case.type, "license": "test",
        "remote": {"type": case.type, "base_url": base_url, "model": model, "api_key_env": "UNUSED_KEY"},
        "capabilities": {"chat": True, "tools": True, "json_mode": True, "vision": True,
                         "context_length": 100000},
        "pricing": {"input_per_mtok": 1, "output_per_mtok": 2},
        "residency": {"jurisdiction": "US", "leaves_premises": True},
    })
    timeouts = Timeouts(connect_s=5, read_s=read_timeout_s, total_s=30)
    return adapter_class(case.type)(entry, key, client, timeouts)


async def collect(chunks: AsyncIterator[ChatChunk]) -> list[ChatChunk]:
    return [c async for c in chunks]


async def run(case: Case, base_url: str, model: str, body: dict[str, Any], **kw: Any) -> list[ChatChunk]:
    async with httpx.AsyncClient() as client:
        engine = engine_for(case, base_url, client, model, **kw)
        return await collect(engine.chat({"model": engine.model_id, **body}))


async def failure(case: Case, base_url: str, model: str, **kw: Any) -> StellwerkError:
    with pytest.raises(StellwerkError) as err:
        await run(case, base_url, model, {"messages": USER}, **kw)
    return err.value


def text_of(chunks: list[ChatChunk]) -> str:
    return "".join(c.text for c in chunks)


def finish_of(chunks: list[ChatChunk]) -> list[str]:
    return [c.finish_reason for c in chunks if c.finish_reason]


async def test_echo_streams_text_usage_and_one_finish(case: Case, base_url: str) -> None:
    chunks = await run(case, base_url, "fake-model", {"messages": USER, "max_tokens": 50})
    assert text_of(chunks) == "You said: hello there"
    assert sum(1 for c in chunks if c.text) >= 3, "the answer should stream in pieces"
    assert finish_of(chunks) == ["stop"]
    usage = [c.usage for c in chunks if c.usage is not None][-1]
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 7)


async def test_tool_call_is_streamed_as_openai_deltas(case: Case, base_url: str) -> None:
    chunks = await run(case, base_url, "tool-model",
                       {"messages": [{"role": "user", "content": "Weather in Paris?"}],
                        "tools": [WEATHER_TOOL], "tool_choice": "auto", "max_tokens": 50})
    deltas = [d for c in chunks for d in c.tool_calls]
    assert deltas and deltas[0].id and deltas[0].name == "get_weather"
    assert {d.index for d in deltas} == {0}
    assert json.loads("".join(d.arguments for d in deltas)) == {"city": "Paris"}
    assert finish_of(chunks) == ["tool_calls"]


async def test_tool_result_round_trip(case: Case, base_url: str) -> None:
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_0", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny, 21 C"},
    ]
    chunks = await run(case, base_url, "tool-model",
                       {"messages": messages, "tools": [WEATHER_TOOL], "max_tokens": 50})
    assert text_of(chunks) == "The tool said: sunny, 21 C"
    assert finish_of(chunks) == ["stop"]


async def test_system_prompt_and_sampling_reach_the_provider(case: Case, base_url: str) -> None:
    body = {"messages": [{"role": "system", "content": "Be brief."}, *USER],
            "temperature": 0.5, "top_p": 0.9, "max_tokens": 20, "stop": ["END"]}
    if case.type == "anthropic":  # API version 2026-10-21 has no sampling parameters: a clear 400
        with pytest.raises(InvalidRequest) as err:
            await run(case, base_url, "fake-model", body)
        assert err.value.param == "temperature" and "2026-10-21" in err.value.message
        body = {k: v for k, v in body.items() if k not in ("temperature", "top_p")}
    if case.type == "openai-responses":  # the Responses API has no stop sequences: a clear 400
        with pytest.raises(InvalidRequest) as err:
            await run(case, base_url, "fake-model", body)
        assert err.value.param == "stop"
        body = {k: v for k, v in body.items() if k != "stop"}
    chunks = await run(case, base_url, "fake-model", body)
    assert text_of(chunks) == "You said: hello there"


async def test_vllm_only_parameters_are_refused_or_passed_never_dropped(case: Case, base_url: str) -> None:
    body = {"messages": USER, "max_tokens": 10, "top_k": 5}
    if case.type == "openai-compatible":
        await run(case, base_url, "fake-model", body)  # such servers take vLLM's extras
        return
    if case.type == "gemini":  # Gemini has top_k: translated, not refused
        await run(case, base_url, "fake-model", body)
        return
    with pytest.raises(InvalidRequest) as err:
        await run(case, base_url, "fake-model", body)
    assert "top_k" in err.value.message


async def test_bad_key_is_upstream_auth_and_never_echoes_the_key(case: Case, base_url: str) -> None:
    secret = "sk-live-" + "x" * 24
    error = await failure(case, base_url, "bad-key", key=secret)
    assert isinstance(error, UpstreamAuthFailed)
    assert error.status_code == 502
    assert secret not in error.message


async def test_rate_limit_keeps_retry_after(case: Case, base_url: str) -> None:
    error = await failure(case, base_url, "rate-limited")
    assert isinstance(error, RateLimited) and error.status_code == 429
    assert error.retry_after_s == 7


async def test_server_error_is_502(case: Case, base_url: str) -> None:
    error = await failure(case, base_url, "server-error")
    assert isinstance(error, EngineFailed) and error.status_code == 502


async def test_overloaded_is_503(case: Case, base_url: str) -> None:
    error = await failure(case, base_url, "overloaded")
    assert isinstance(error, EngineUnavailable) and error.status_code == 503


async def test_unknown_model_is_404(case: Case, base_url: str) -> None:
    error = await failure(case, base_url, "unknown-model")
    assert isinstance(error, ModelUnavailable) and error.status_code == 404


async def test_content_filter(case: Case, base_url: str) -> None:
    if case.content_filter_is_error:
        error = await failure(case, base_url, "content-filter")
        assert isinstance(error, ContentFiltered) and error.status_code == 400
    else:
        chunks = await run(case, base_url, "content-filter", {"messages": USER, "max_tokens": 10})
        assert finish_of(chunks) == ["content_filter"]


async def test_slow_first_byte_times_out(case: Case, base_url: str) -> None:
    error = await failure(case, base_url, "slow-first-byte", read_timeout_s=0.5)
    assert isinstance(error, UpstreamTimeout) and error.status_code == 504


async def test_connection_reset_mid_stream_is_an_error_after_the_text(case: Case, base_url: str) -> None:
    received: list[ChatChunk] = []
    async with httpx.AsyncClient() as client:
        engine = engine_for(case, base_url, client, "reset-mid-stream")
        with pytest.raises(EngineFailed):
            async for chunk in engine.chat({"model": engine.model_id, "messages": USER, "max_tokens": 20}):
                received.append(chunk)
    assert text_of(received), "the pieces before the reset should have arrived"


async def test_invalid_json_from_upstream_is_502(case: Case, base_url: str) -> None:
    error = await failure(case, base_url, "invalid-json")
    assert isinstance(error, EngineFailed) and error.status_code == 502


async def test_unreachable_provider_is_503(case: Case) -> None:
    async with httpx.AsyncClient() as client:
        engine = engine_for(case, "http://127.0.0.1:9", client, "fake-model", read_timeout_s=2)
        with pytest.raises(EngineUnavailable):
            await collect(engine.chat({"model": engine.model_id, "messages": USER}))


async def test_cached_and_reasoning_tokens_are_reported(case: Case, base_url: str) -> None:
    chunks = await run(case, base_url, "cached-model", {"messages": USER, "max_tokens": 50})
    usage = [c.usage for c in chunks if c.usage is not None][-1]
    assert (usage.prompt_tokens, usage.cached_tokens) == (11, 8)
    assert (usage.completion_tokens, usage.reasoning_tokens) == (7, 3)
    assert text_of(chunks) == "You said: hello there", "thinking text must not leak into the answer"
    if case.type in {"anthropic", "gemini"}:  # OpenAI's Chat Completions returns no reasoning text
        assert "".join(c.reasoning for c in chunks)


async def test_a_responses_only_model_needs_the_responses_adapter(case: Case, base_url: str) -> None:
    if case.type != "openai-responses":
        if case.fake == "openai_server":  # OpenAI refuses such a model on Chat Completions
            with pytest.raises(InvalidRequest, match="only supported in v1/responses"):
                await run(case, base_url, "responses-only-model", {"messages": USER})
        return
    chunks = await run(case, base_url, "responses-only-model", {"messages": USER, "max_tokens": 50})
    assert text_of(chunks) == "You said: hello there" and finish_of(chunks) == ["stop"]
