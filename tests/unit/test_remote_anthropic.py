"""The Anthropic Messages adapter: request translation, the fake's faithfulness (checked with the official
`anthropic` SDK), and the adapter against the fake over real loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from fastapi import FastAPI

from models.catalogue import ModelEntry
from serving.engine import ChatChunk
from serving.errors import (
    EngineFailed,
    EngineUnavailable,
    InvalidRequest,
    ModelUnavailable,
    RateLimited,
    StellwerkError,
    UpstreamAuthFailed,
)
from serving.remote.anthropic_messages import DEFAULT_MAX_TOKENS, AnthropicChatEngine, to_anthropic
from serving.remote.base import Timeouts
from serving.remote.registry import adapter_class
from tests.fake_providers.anthropic_server import create_app, sse
from tests.fake_providers.runner import serve_app

KEY = "test-key"
USER = [{"role": "user", "content": "hello there"}]
CITY: dict[str, object] = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city", "parameters": CITY}}
ANTHROPIC_WEATHER: anthropic.types.ToolParam = {
    "name": "get_weather", "description": "Weather in a city", "input_schema": CITY}
PNG = "iVBORw0KGgo="


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[FastAPI, str]]:
    app = create_app(expected_key=KEY)
    with serve_app(app) as url:
        yield app, url


@pytest.fixture
def app(fake: tuple[FastAPI, str]) -> FastAPI:
    return fake[0]


@pytest.fixture
def url(fake: tuple[FastAPI, str]) -> str:
    return fake[1]


def make_engine(url: str, client: httpx.AsyncClient, model: str = "fake-model", *,
                vision: bool = True, key: str = KEY) -> AnthropicChatEngine:
    entry = ModelEntry.model_validate({
        "id": f"claude/{model}", "kind": "remote", "provider": "anthropic", "license": "proprietary",
        "remote": {"type": "anthropic", "base_url": url, "model": model, "api_key_env": "UNUSED"},
        "capabilities": {"tools": True, "json_mode": True, "vision": vision, "context_length": 200000},
        "pricing": {"input_per_mtok": 3, "output_per_mtok": 15},
        "residency": {"jurisdiction": "US", "leaves_premises": True},
    })
    return AnthropicChatEngine(entry, key, client, Timeouts(connect_s=5, read_s=10, total_s=30))


async def chat(url: str, model: str, body: dict[str, Any], **kw: Any) -> list[ChatChunk]:
    async with httpx.AsyncClient() as client:
        engine = make_engine(url, client, model, **kw)
        return [c async for c in engine.chat({"model": engine.model_id, **body})]


def text_of(chunks: list[ChatChunk]) -> str:
    return "".join(c.text for c in chunks)


def finishes(chunks: list[ChatChunk]) -> list[str]:
    return [c.finish_reason for c in chunks if c.finish_reason]


def translate(body: dict[str, Any], *, vision: bool = True) -> dict[str, Any]:
    return to_anthropic({"model": "claude/x", **body}, "claude-x", vision=vision)


def test_registry_finds_the_adapter() -> None:
    assert adapter_class("anthropic") is AnthropicChatEngine


# --- translation, as the fake records it -----------------------------------------------------------


async def test_system_and_developer_messages_become_top_level_system(app: FastAPI, url: str) -> None:
    await chat(url, "fake-model", {"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]}, *USER]})
    sent = app.state.requests[-1]
    assert sent["system"] == "Be brief.\n\nAnswer in French."
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]
    assert sent["model"] == "fake-model" and sent["stream"] is True
    assert sent["max_tokens"] == DEFAULT_MAX_TOKENS


async def test_consecutive_same_role_turns_are_merged(app: FastAPI, url: str) -> None:
    chunks = await chat(url, "fake-model", {"messages": [
        {"role": "user", "content": "one"}, {"role": "user", "content": "two"},
        {"role": "assistant", "content": "three"}, {"role": "assistant", "content": "four"},
        {"role": "user", "content": "five"}]})
    assert [m["role"] for m in app.state.requests[-1]["messages"]] == ["user", "assistant", "user"]
    assert app.state.requests[-1]["messages"][0]["content"] == [
        {"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert text_of(chunks) == "You said: five"


async def test_tool_calls_and_results_translate_and_round_trip(app: FastAPI, url: str) -> None:
    messages = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_a", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
            {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "rain"}]},
        {"role": "user", "content": "Thanks."},
    ]
    chunks = await chat(url, "tool-model", {"messages": messages, "tools": [WEATHER],
                                            "tool_choice": "required", "parallel_tool_calls": False})
    sent = app.state.requests[-1]
    assert sent["tools"] == [ANTHROPIC_WEATHER]
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert sent["messages"][1] == {"role": "assistant", "content": [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_b", "name": "get_weather", "input": {}}]}
    assert sent["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_a", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "call_b", "content": "rain"},
        {"type": "text", "text": "Thanks."}]}
    assert text_of(chunks) == "The tool said: rain"
    assert finishes(chunks) == ["stop"]


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", {"type": "auto"}),
    ("none", {"type": "none"}),
    ("required", {"type": "any"}),
    ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
])
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    out = translate({"messages": USER, "tools": [WEATHER], "tool_choice": choice})
    assert out["tool_choice"] == expected


def test_tool_strict_is_passed_and_missing_parameters_get_an_empty_schema() -> None:
    tool = {"type": "function", "function": {"name": "now", "strict": True}}
    out = translate({"messages": USER, "tools": [tool]})
    assert out["tools"] == [{"name": "now", "strict": True,
                             "input_schema": {"type": "object", "properties": {}}}]
    assert "tool_choice" not in out


async def test_sampling_parameters(app: FastAPI, url: str) -> None:
    await chat(url, "fake-model", {"messages": USER, "stop": "END", "max_tokens": 99,
                                   "max_completion_tokens": 33, "user": "u-42", "presence_penalty": 0,
                                   "repetition_penalty": 1.0})
    sent = app.state.requests[-1]
    assert (sent["stop_sequences"], sent["max_tokens"]) == (["END"], 33)
    assert not {"temperature", "top_p", "top_k"} & set(sent)
    assert sent["metadata"] == {"user_id": "u-42"}


@pytest.mark.parametrize("param", ["temperature", "top_p", "top_k"])
def test_sampling_is_refused_under_api_version_2026_10_21(param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        translate({"messages": USER, param: 1 if param == "top_k" else 0.5})
    assert err.value.param == param and "2026-10-21" in err.value.message


def test_reasoning_effort_and_thinking_are_translated() -> None:
    assert translate({"messages": USER, "reasoning_effort": "minimal"})["output_config"] == {"effort": "low"}
    assert translate({"messages": USER, "reasoning_effort": "none"})["thinking"] == {"type": "disabled"}
    out = translate({"messages": USER, "max_tokens": 4000,
                     "thinking": {"type": "enabled", "budget_tokens": 2048}})
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    for bad in ({"type": "enabled", "budget_tokens": 512}, {"type": "enabled", "budget_tokens": 9000},
                {"type": "sometimes"}):
        with pytest.raises(InvalidRequest):
            translate({"messages": USER, "max_tokens": 4000, "thinking": bad})
    with pytest.raises(InvalidRequest):
        translate({"messages": USER, "reasoning_effort": "extreme"})


async def test_thinking_blocks_are_reasoning_not_answer_text(app: FastAPI, url: str) -> None:
    chunks = await chat(url, "cached-model", {"messages": USER, "max_tokens": 4000,
                                              "thinking": {"type": "enabled", "budget_tokens": 1024}})
    assert "".join(c.reasoning for c in chunks) == "Let me think."
    assert text_of(chunks) == "You said: hello there"
    assert app.state.requests[-1]["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_stop_list_and_vllm_top_k_off() -> None:
    out = translate({"messages": USER, "stop": ["a", "b"], "top_k": -1, "max_tokens": 7})
    assert out["stop_sequences"] == ["a", "b"] and "top_k" not in out and out["max_tokens"] == 7


async def test_json_schema_is_a_structured_output_format(app: FastAPI, url: str) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    chunks = await chat(url, "tool-model", {"messages": USER, "reasoning_effort": "low", "response_format": {
        "type": "json_schema", "json_schema": {"name": "place", "schema": schema, "strict": True}}})
    sent = app.state.requests[-1]
    assert sent["output_config"] == {"effort": "low", "format": {"type": "json_schema", "schema": schema}}
    assert "tools" not in sent and "tool_choice" not in sent  # current models refuse forced tool use
    assert json.loads(text_of(chunks)) == {"city": "Paris"}
    assert finishes(chunks) == ["stop"]


async def test_json_object_is_any_object_and_combines_with_tools(app: FastAPI, url: str) -> None:
    chunks = await chat(url, "fake-model", {"messages": USER, "tools": [WEATHER],
                                            "response_format": {"type": "json_object"}})
    sent = app.state.requests[-1]
    assert sent["output_config"]["format"] == {"type": "json_schema", "schema": {"type": "object"}}
    assert sent["tools"][0]["name"] == "get_weather"
    assert isinstance(json.loads(text_of(chunks)), dict)


async def test_images_become_base64_or_url_sources(app: FastAPI, url: str) -> None:
    await chat(url, "fake-model", {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}]})
    assert app.state.requests[-1]["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]


def image_body(url: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]}


@pytest.mark.parametrize(("body", "param"), [
    ({"seed": 7}, "seed"),
    ({"temperature": 1.5}, "temperature"),
    ({"n": 2}, "n"),
    ({"logprobs": True}, "logprobs"),
    ({"presence_penalty": 0.5}, "presence_penalty"),
    ({"min_tokens": 5}, "min_tokens"),
    ({"ignore_eos": True}, "ignore_eos"),
    ({"repetition_penalty": 1.2}, "repetition_penalty"),
    ({"some_new_field": 1}, "some_new_field"),
    ({"response_format": "json"}, "response_format"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [{"type": "web_search"}]}, "tools"),
])
def test_unsupported_parameters_are_refused(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        translate({"messages": USER, **body})
    assert err.value.param == param and err.value.status_code == 400


@pytest.mark.parametrize("messages", [
    image_body(f"data:image/png;base64,{PNG}")["messages"],
])
def test_images_need_a_vision_model(messages: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidRequest, match="images"):
        translate({"messages": messages}, vision=False)


@pytest.mark.parametrize("image", ["data:image/bmp;base64,Qk0=", "data:image/png,rawbytes", "ftp://x/y.png"])
def test_unusable_images_are_refused(image: str) -> None:
    with pytest.raises(InvalidRequest):
        translate(image_body(image))


def test_bad_tool_arguments_are_refused() -> None:
    messages = [*USER, {"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}]}]
    with pytest.raises(InvalidRequest, match="JSON object"):
        translate({"messages": messages})


async def test_refusal_happens_before_any_http(url: str) -> None:
    with pytest.raises(InvalidRequest, match="seed"):
        await chat(url, "fake-model", {"messages": USER, "seed": 1})


def test_key_goes_only_in_the_header() -> None:
    engine = make_engine("https://api.anthropic.com/", httpx.AsyncClient())
    request = engine.build_request({"model": engine.model_id, "messages": USER}, "sk-ant-secret")
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-secret"
    assert request.headers["anthropic-version"] == "2026-10-21"
    assert b"sk-ant-secret" not in request.content


# --- the fake, checked with the official SDK -------------------------------------------------------


@pytest.fixture
def sdk(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)


def test_sdk_create_echo(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(model="fake-model", max_tokens=50, messages=[
        {"role": "user", "content": "hello there"}])
    assert message.content[0].type == "text" and message.content[0].text == "You said: hello there"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (11, 7)


def test_sdk_create_tool_use(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(model="tool-model", max_tokens=50, tools=[ANTHROPIC_WEATHER],
                                  messages=[{"role": "user", "content": "Weather in Paris?"}])
    block = message.content[0]
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"city": "Paris"}
    assert message.stop_reason == "tool_use"


def test_sdk_stream_text(sdk: anthropic.Anthropic) -> None:
    with sdk.messages.stream(model="fake-model", max_tokens=50,
                             messages=[{"role": "user", "content": "hello there"}]) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) >= 3 and "".join(pieces) == "You said: hello there"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 7
    assert final.usage.input_tokens == 11


def test_sdk_stream_tool_use_with_input_json_deltas(sdk: anthropic.Anthropic) -> None:
    with sdk.messages.stream(model="tool-model", max_tokens=50, tools=[ANTHROPIC_WEATHER],
                             messages=[{"role": "user", "content": "Weather in Paris?"}]) as stream:
        events = list(stream)
        final = stream.get_final_message()
    fragments = [e.delta.partial_json for e in events
                 if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
    assert len([f for f in fragments if f]) >= 2
    block = final.content[0]
    assert block.type == "tool_use" and block.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"


def test_sdk_tool_result_round_trip(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(model="tool-model", max_tokens=50, tools=[ANTHROPIC_WEATHER], messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}])
    assert message.content[0].type == "text" and message.content[0].text == "The tool said: sunny"


@pytest.mark.parametrize(("model", "error"), [
    ("rate-limited", anthropic.RateLimitError),
    ("overloaded", anthropic.OverloadedError),
    ("server-error", anthropic.InternalServerError),
    ("unknown-model", anthropic.NotFoundError),
    ("bad-key", anthropic.AuthenticationError),
])
def test_sdk_reads_the_error_shapes(sdk: anthropic.Anthropic, model: str, error: type[Exception]) -> None:
    with pytest.raises(error) as err:
        sdk.messages.create(model=model, max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert isinstance(err.value, anthropic.APIStatusError)
    assert isinstance(err.value.body, dict) and err.value.body["type"] == "error"


def test_sdk_wrong_key_and_bad_request(url: str, sdk: anthropic.Anthropic) -> None:
    other = anthropic.Anthropic(base_url=url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        other.messages.create(model="fake-model", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.BadRequestError, match="budget_tokens"):
        sdk.messages.create(model="fake-model", max_tokens=2000,
                            thinking={"type": "enabled", "budget_tokens": 100},
                            messages=[{"role": "user", "content": "hi"}])
    # The SDK speaks API version 2026-10-21, which no longer has sampling parameters.
    with pytest.raises(anthropic.BadRequestError, match="temperature"):
        sdk.messages.create(model="fake-model", max_tokens=5, extra_body={"temperature": 0.5},
                            messages=[{"role": "user", "content": "hi"}])


V1 = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
V2 = {"x-api-key": KEY, "anthropic-version": "2026-10-21"}


@pytest.mark.parametrize(("headers", "body", "status", "kind"), [
    (V1, {"temperature": 0.5}, 200, None),
    (V2, {"temperature": 1.0}, 400, "invalid_request_error"),
    (V2, {"top_k": 5}, 400, "invalid_request_error"),
    (V2, {"max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 1024}}, 200, None),
    (V2, {"max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 512}}, 400,
     "invalid_request_error"),
    (V2, {"max_tokens": 1024, "thinking": {"type": "enabled", "budget_tokens": 1024}}, 400,
     "invalid_request_error"),
    (V2, {"output_config": {"effort": "extreme"}}, 400, "invalid_request_error"),
    (V2, {"cache_control": {"type": "ephemeral"}}, 200, None),
    (V1, {"temperature": 1.5}, 400, "invalid_request_error"),
    (V1, {"seed": 1}, 400, "invalid_request_error"),
    ({"x-api-key": KEY}, {}, 400, "invalid_request_error"),
    ({**V1, "x-api-key": "nope"}, {}, 401, "authentication_error"),
])
def test_fake_validates_like_the_api(url: str, headers: dict[str, str], body: dict[str, Any],
                                     status: int, kind: str | None) -> None:
    payload = {"model": "fake-model", "max_tokens": 5, "messages": USER, **body}
    response = httpx.post(f"{url}/v1/messages", headers=headers, json=payload)
    assert response.status_code == status
    if kind is not None:
        assert response.json()["type"] == "error" and response.json()["error"]["type"] == kind


def test_sdk_sees_an_error_event_mid_stream(sdk: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.APIStatusError) as err, sdk.messages.stream(
            model="overloaded-mid-stream", max_tokens=5,
            messages=[{"role": "user", "content": "hi"}]) as stream:
        list(stream.text_stream)
    assert isinstance(err.value.body, dict) and err.value.body["error"]["type"] == "overloaded_error"


# --- the adapter against the fake ------------------------------------------------------------------


async def test_echo_text_usage_and_finish(url: str) -> None:
    chunks = await chat(url, "fake-model", {"messages": USER, "max_tokens": 50})
    assert text_of(chunks) == "You said: hello there"
    assert sum(1 for c in chunks if c.text) >= 3
    assert finishes(chunks) == ["stop"]
    usage = [c.usage for c in chunks if c.usage][-1]
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 7)


async def test_tool_call_deltas(url: str) -> None:
    chunks = await chat(url, "tool-model", {"messages": USER, "tools": [WEATHER]})
    deltas = [d for c in chunks for d in c.tool_calls]
    assert (deltas[0].index, deltas[0].id, deltas[0].name) == (0, "toolu_fake01", "get_weather")
    assert all(d.id is None and d.name is None for d in deltas[1:])
    assert len([d for d in deltas if d.arguments]) >= 2
    assert json.loads("".join(d.arguments for d in deltas)) == {"city": "Paris"}
    assert finishes(chunks) == ["tool_calls"]


async def test_text_then_two_tool_calls_keep_openai_indexes(url: str) -> None:
    chunks = await chat(url, "multi-tool-model", {"messages": USER, "tools": [WEATHER]})
    assert text_of(chunks) == "Let me check."
    calls: dict[int, str] = {}
    for d in (d for c in chunks for d in c.tool_calls):
        calls[d.index] = calls.get(d.index, "") + d.arguments
    assert {i: json.loads(a) for i, a in calls.items()} == {0: {"city": "Paris"}, 1: {"city": "Berlin"}}
    assert finishes(chunks) == ["tool_calls"]


@pytest.mark.parametrize(("model", "finish"), [
    ("max-tokens", "length"), ("content-filter", "content_filter")])
async def test_finish_reasons(url: str, model: str, finish: str) -> None:
    chunks = await chat(url, model, {"messages": USER})
    assert finishes(chunks) == [finish]


async def test_error_event_mid_stream_is_engine_unavailable_after_the_text(url: str) -> None:
    received: list[ChatChunk] = []
    async with httpx.AsyncClient() as client:
        engine = make_engine(url, client, "overloaded-mid-stream")
        with pytest.raises(EngineUnavailable, match="Overloaded"):
            async for chunk in engine.chat({"model": engine.model_id, "messages": USER}):
                received.append(chunk)
    assert text_of(received) == "Partial" and not finishes(received)


@pytest.mark.parametrize(("model", "error"), [
    ("rate-limited", RateLimited), ("overloaded", EngineUnavailable), ("server-error", EngineFailed),
    ("unknown-model", ModelUnavailable), ("invalid-json", EngineFailed), ("reset-mid-stream", EngineFailed),
])
async def test_provider_failures_map_into_the_error_tree(url: str, model: str,
                                                         error: type[Exception]) -> None:
    with pytest.raises(error) as err:
        await chat(url, model, {"messages": USER})
    if isinstance(err.value, RateLimited):
        assert err.value.retry_after_s == 7


async def test_bad_key_is_redacted(url: str) -> None:
    secret = "sk-ant-api03-" + "z" * 30
    with pytest.raises(UpstreamAuthFailed) as err:
        await chat(url, "bad-key", {"messages": USER}, key=secret)
    assert secret not in err.value.message


# --- stream and error-body edge cases (httpx.MockTransport) ----------------------------------------


def events_stream(*events: dict[str, Any]) -> bytes:
    return b"".join(sse(e) for e in events)


START = {"type": "message_start", "message": {
    "id": "m", "type": "message", "role": "assistant", "content": [], "model": "x", "stop_reason": None,
    "stop_sequence": None, "usage": {"input_tokens": 5, "cache_read_input_tokens": 100,
                                     "cache_creation_input_tokens": 20, "output_tokens": 1}}}
STOP = {"type": "message_stop"}


def delta(stop_reason: str, **usage: int) -> dict[str, Any]:
    return {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": 3, **usage}}


async def mock_chat(content: bytes, status: int = 200) -> list[ChatChunk]:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=content))
    async with httpx.AsyncClient(transport=transport) as client:
        engine = make_engine("https://api.anthropic.test", client)
        return [c async for c in engine.chat({"model": engine.model_id, "messages": USER})]


async def test_cached_input_counts_as_prompt_tokens_and_later_totals_win() -> None:
    chunks = await mock_chat(events_stream(START, delta("end_turn", input_tokens=6), STOP))
    usage = [c.usage for c in chunks if c.usage][-1]
    assert (usage.prompt_tokens, usage.completion_tokens) == (126, 3)


async def test_tool_without_arguments_gets_an_empty_object() -> None:
    tool = {"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "t1", "name": "now", "input": {}}}
    chunks = await mock_chat(events_stream(START, tool, {"type": "content_block_stop", "index": 0},
                                           delta("tool_use"), {"type": "message_stop"}))
    assert "".join(d.arguments for c in chunks for d in c.tool_calls) == "{}"


async def test_unknown_stop_reason_and_unknown_events_are_tolerated() -> None:
    chunks = await mock_chat(events_stream(START, {"type": "some_future_event"}, delta("brand_new_reason"),
                                           {"type": "message_stop"}))
    assert finishes(chunks) == ["stop"]


@pytest.mark.parametrize("content", [
    events_stream(START, delta("end_turn")),  # ends without message_stop
    events_stream({"type": "content_block_stop", "index": 0}),  # no message_start
    events_stream(START, {"type": "message_stop"}),  # no stop_reason
])
async def test_truncated_or_malformed_streams_are_engine_failures(content: bytes) -> None:
    with pytest.raises(EngineFailed):
        await mock_chat(content)


@pytest.mark.parametrize(("body", "message", "kind"), [
    (b'{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}', "bad",
     "invalid_request_error"),
    (b"", "HTTP 502", None),
    (b"<html>Bad gateway</html>", "<html>Bad gateway</html>", None),
    (b"[1]", "[1]", None),
])
def test_error_bodies(body: bytes, message: str, kind: str | None) -> None:
    engine = make_engine("https://api.anthropic.test", httpx.AsyncClient())
    error = engine.error_from(502, body)
    assert (error.message, error.kind) == (message, kind)


async def test_provider_400_is_invalid_request() -> None:
    body = b'{"type":"error","error":{"type":"invalid_request_error","message":"messages: roles"}}'
    with pytest.raises(StellwerkError) as err:
        await mock_chat(body, status=400)
    assert isinstance(err.value, InvalidRequest) and "messages: roles" in err.value.message
