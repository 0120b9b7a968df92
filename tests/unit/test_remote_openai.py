"""The OpenAI Chat Completions adapters ("openai", "openai-compatible") and their fake provider.

Three layers: the official `openai` SDK parses the fake's replies (so the fake is faithful); the
adapters send the expected JSON to the fake and read its streams; and `httpx.MockTransport` feeds the
adapters stream shapes the fake does not script (in-stream errors, Azure filter chunks, ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI

from models.catalogue import ModelEntry
from serving.engine import ChatChunk
from serving.errors import (
    ContentFiltered,
    EngineFailed,
    EngineUnavailable,
    InvalidRequest,
    RateLimited,
    UpstreamAuthFailed,
)
from serving.remote.base import RemoteChatEngine, Timeouts
from serving.remote.openai_chat import OpenAIChatEngine, OpenAICompatibleChatEngine
from serving.remote.registry import adapter_class
from tests.fake_providers.openai_server import create_app
from tests.fake_providers.runner import serve_app

KEY = "test-key"
USER = [{"role": "user", "content": "hello there"}]
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city", "strict": True,
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "additionalProperties": False}}}
STREAMING = {"stream": True, "stream_options": {"include_usage": True}}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FastAPI, str]]:
    app = create_app(expected_key=KEY)
    with serve_app(app) as url:
        yield app, url


@pytest.fixture
def app(served: tuple[FastAPI, str]) -> FastAPI:
    """The fake, its records cleared for this test."""
    app = served[0]
    app.state.requests.clear()
    app.state.urls.clear()
    return app


@pytest.fixture
def root(served: tuple[FastAPI, str], app: FastAPI) -> str:
    return served[1]


@pytest.fixture
def sdk(root: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=root + "/v1", api_key=KEY, max_retries=0, timeout=10) as client:
        yield client


def entry(type_: str, base_url: str, model: str = "fake-model", **caps: bool) -> ModelEntry:
    capabilities = {"chat": True, "tools": True, "json_mode": True, "vision": True,
                    "context_length": 100000, **caps}
    return ModelEntry.model_validate({
        "id": f"test/{model}", "kind": "remote", "provider": "test", "license": "test",
        "remote": {"type": type_, "base_url": base_url, "model": model, "api_key_env": "UNUSED"},
        "capabilities": capabilities, "pricing": {"input_per_mtok": 1, "output_per_mtok": 2},
        "residency": {"jurisdiction": "US", "leaves_premises": True},
    })


def engine(type_: str, base_url: str, client: httpx.AsyncClient, model: str = "fake-model",
           key: str = KEY, **caps: bool) -> RemoteChatEngine:
    return adapter_class(type_)(entry(type_, base_url, model, **caps), key, client,
                                Timeouts(connect_s=5, read_s=5, total_s=30))


async def chat(type_: str, base_url: str, body: dict[str, Any], model: str = "fake-model",
               **caps: bool) -> list[ChatChunk]:
    async with httpx.AsyncClient() as client:
        e = engine(type_, base_url, client, model, **caps)
        return [c async for c in e.chat({"model": e.model_id, **body})]


def text_of(chunks: list[ChatChunk]) -> str:
    return "".join(c.text for c in chunks)


def finishes(chunks: list[ChatChunk]) -> list[str]:
    return [c.finish_reason for c in chunks if c.finish_reason]


# --- the registry ---------------------------------------------------------------------------------


def test_registry_names_both_engines() -> None:
    assert adapter_class("openai") is OpenAIChatEngine
    assert adapter_class("openai-compatible") is OpenAICompatibleChatEngine


# --- the fake, read by the official SDK -----------------------------------------------------------


def test_sdk_reads_a_non_streamed_answer(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(model="fake-model", messages=USER)
    assert answer.choices[0].message.content == "You said: hello there"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (11, 7)


def test_sdk_reads_a_streamed_answer_with_usage(sdk: openai.OpenAI) -> None:
    chunks = list(sdk.chat.completions.create(
        model="fake-model", messages=USER, stream=True,
        stream_options={"include_usage": True}))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == "You said: hello there" and len(pieces) >= 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] \
        == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 18


def test_sdk_streams_without_usage_unless_asked(sdk: openai.OpenAI) -> None:
    chunks = list(sdk.chat.completions.create(model="fake-model", messages=USER,
                                                    stream=True))
    assert all(c.usage is None for c in chunks)


def test_sdk_assembles_streamed_tool_call_deltas(sdk: openai.OpenAI) -> None:
    with sdk.chat.completions.stream(
            model="tool-model", messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER_TOOL]) as stream:
        argument_deltas = [e.arguments_delta for e in stream
                           if e.type == "tool_calls.function.arguments.delta"]
        final = stream.get_final_completion()
    assert len(argument_deltas) >= 2
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.id == "call_fake_0" and call.function.name == "get_weather"
    assert call.function.parsed_arguments == {"city": "Paris"}


def test_sdk_reads_a_non_streamed_tool_call_and_the_tool_round_trip(sdk: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = sdk.chat.completions.create(model="tool-model", messages=messages, tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    second = sdk.chat.completions.create(model="tool-model", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "The tool said: sunny"


@pytest.mark.parametrize(("model", "error", "code"), [
    ("rate-limited", openai.RateLimitError, "rate_limit_exceeded"),
    ("server-error", openai.InternalServerError, None),
    ("overloaded", openai.InternalServerError, None),
    ("bad-key", openai.AuthenticationError, "invalid_api_key"),
    ("content-filter", openai.BadRequestError, "content_filter"),
    ("unknown-model", openai.NotFoundError, "model_not_found"),
])
def test_sdk_reads_the_fakes_errors(sdk: openai.OpenAI, model: str, error: type[openai.APIStatusError],
                                    code: str | None) -> None:
    with pytest.raises(error) as raised:
        sdk.chat.completions.create(model=model, messages=USER)
    assert raised.value.code == code
    if model == "rate-limited":
        assert raised.value.response.headers["retry-after"] == "7"


def test_sdk_wrong_key_and_model_list(sdk: openai.OpenAI) -> None:
    assert [m.id for m in sdk.models.list()] == ["fake-model", "tool-model"]
    with pytest.raises(openai.AuthenticationError):  # the copy shares (and leaves open) sdk's pool
        sdk.with_options(api_key="wrong").chat.completions.create(model="fake-model", messages=USER)


# --- what the adapters send -----------------------------------------------------------------------

CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                 {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
    {"role": "assistant", "content": "A cat."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "tool_calls": [{"id": "call_0", "type": "function", "function": {
        "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
]
SAMPLING: dict[str, Any] = {
    "tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"},
                                                               "strict": True}},
    "stop": ["END"], "temperature": 0.5, "top_p": 0.9, "seed": 7, "n": 1, "user": "u-1",
    "presence_penalty": 0.1, "frequency_penalty": 0.2,
}


async def test_openai_sends_the_request_as_openai_defines_it(root: str, app: FastAPI) -> None:
    chunks = await chat("openai", root + "/v1", {"messages": CONVERSATION, "max_tokens": 50, **SAMPLING},
                        model="tool-model")
    assert text_of(chunks) == "The tool said: sunny"
    assert app.state.requests == [{
        "model": "tool-model", "messages": CONVERSATION, **SAMPLING,
        "max_completion_tokens": 50,  # reasoning models reject max_tokens; this works for all
        **STREAMING,
    }]
    assert app.state.urls == [root + "/v1/chat/completions"]


async def test_openai_keeps_max_completion_tokens_over_max_tokens(root: str, app: FastAPI) -> None:
    await chat("openai", root + "/v1", {"messages": USER, "max_tokens": 50, "max_completion_tokens": 20})
    assert app.state.requests[-1]["max_completion_tokens"] == 20
    assert "max_tokens" not in app.state.requests[-1]


async def test_compatible_forwards_everything_including_vllm_extras(root: str, app: FastAPI) -> None:
    extras = {"top_k": 5, "repetition_penalty": 1.1, "min_tokens": 2, "ignore_eos": False,
              "chat_template_kwargs": {"enable_thinking": False}}
    body = {"messages": CONVERSATION, "max_tokens": 50, **SAMPLING, **extras}
    await chat("openai-compatible", root + "/v1", body, model="tool-model")
    assert app.state.requests == [{"model": "tool-model", "messages": CONVERSATION, "max_tokens": 50,
                                   **SAMPLING, **extras, **STREAMING}]


@pytest.mark.parametrize("param", ["top_k", "repetition_penalty", "min_tokens", "ignore_eos", "min_p",
                                   "made_up_field"])
async def test_openai_refuses_parameters_it_does_not_define(root: str, app: FastAPI, param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        await chat("openai", root + "/v1", {"messages": USER, param: 1})
    assert err.value.param == param and f"'{param}'" in err.value.message
    assert err.value.status_code == 400
    assert app.state.requests == [], "a refused request must not reach the provider"


@pytest.mark.parametrize("type_", ["openai", "openai-compatible"])
@pytest.mark.parametrize(("field", "value"), [("logprobs", True), ("top_logprobs", 3),
                                              ("modalities", ["text", "audio"])])
async def test_output_stellwerk_cannot_carry_is_refused(root: str, type_: str, field: str,
                                                        value: object) -> None:
    with pytest.raises(InvalidRequest) as err:
        await chat(type_, root + "/v1", {"messages": USER, field: value})
    assert err.value.param == field


@pytest.mark.parametrize(("caps", "body", "param"), [
    ({"vision": False}, {"messages": CONVERSATION[:2]}, "messages"),
    ({"tools": False}, {"messages": USER, "tools": [WEATHER_TOOL]}, "tools"),
    ({"json_mode": False}, {"messages": USER, "response_format": {"type": "json_object"}},
     "response_format"),
])
async def test_capabilities_the_model_lacks_are_refused(root: str, caps: dict[str, bool],
                                                        body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        await chat("openai-compatible", root + "/v1", body, **caps)
    assert err.value.param == param


def test_the_key_goes_only_in_the_bearer_header() -> None:
    request = OpenAIChatEngine(entry("openai", "https://api.openai.com/v1/"), "sk-secret",
                               httpx.AsyncClient()).build_request({"messages": USER}, "sk-secret")
    assert str(request.url) == "https://api.openai.com/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-secret"
    assert "api-key" not in request.headers


# --- Azure ----------------------------------------------------------------------------------------

AZURE = "https://res.openai.azure.com/openai/deployments/gpt4o"


@pytest.mark.parametrize(("base_url", "version"), [
    (AZURE, "2024-10-21"),
    (AZURE + "/", "2024-10-21"),
    (AZURE + "?api-version=2025-04-01-preview", "2025-04-01-preview"),
])
def test_azure_url_and_api_key_header(base_url: str, version: str) -> None:
    e = OpenAIChatEngine(entry("openai", base_url), "az-secret", httpx.AsyncClient())
    request = e.build_request({"messages": USER, "max_tokens": 5}, "az-secret")
    assert str(request.url) == f"{AZURE}/chat/completions?api-version={version}"
    assert request.headers["api-key"] == "az-secret"
    assert "authorization" not in request.headers
    assert json.loads(request.content)["max_tokens"] == 5  # older api-versions lack the new name


async def test_azure_deployment_against_the_fake(root: str, app: FastAPI) -> None:
    chunks = await chat("openai", root + "/openai/deployments/dep-1", {"messages": USER})
    assert text_of(chunks) == "You said: hello there" and finishes(chunks) == ["stop"]
    assert app.state.urls == [root + "/openai/deployments/dep-1/chat/completions?api-version=2024-10-21"]


async def test_azure_refuses_vllm_extras_too(root: str) -> None:
    with pytest.raises(InvalidRequest, match="Azure OpenAI does not support 'top_k'"):
        await chat("openai", root + "/openai/deployments/dep-1", {"messages": USER, "top_k": 3})


# --- what the adapters read back from the fake ----------------------------------------------------


@pytest.mark.parametrize("type_", ["openai", "openai-compatible"])
async def test_echo_text_usage_and_finish(root: str, type_: str) -> None:
    chunks = await chat(type_, root + "/v1", {"messages": USER})
    assert text_of(chunks) == "You said: hello there"
    assert sum(1 for c in chunks if c.text) >= 3
    assert finishes(chunks) == ["stop"]
    usage = [c.usage for c in chunks if c.usage][-1]
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 7)


@pytest.mark.parametrize("type_", ["openai", "openai-compatible"])
async def test_tool_call_deltas(root: str, type_: str) -> None:
    chunks = await chat(type_, root + "/v1", {"messages": USER, "tools": [WEATHER_TOOL]},
                        model="tool-model")
    deltas = [d for c in chunks for d in c.tool_calls]
    assert (deltas[0].index, deltas[0].id, deltas[0].name) == (0, "call_fake_0", "get_weather")
    assert all(d.id is None and d.name is None for d in deltas[1:]) and len(deltas) >= 3
    assert json.loads("".join(d.arguments for d in deltas)) == {"city": "Paris"}
    assert finishes(chunks) == ["tool_calls"] and text_of(chunks) == ""


async def test_bad_key_is_redacted(root: str) -> None:
    secret = "sk-proj-" + "y" * 30
    async with httpx.AsyncClient() as client:
        e = engine("openai", root + "/v1", client, "bad-key", key=secret)
        with pytest.raises(UpstreamAuthFailed) as err:
            await anext(e.chat({"model": e.model_id, "messages": USER}))
    assert secret not in err.value.message


async def test_content_filter_error_is_content_filtered(root: str) -> None:
    with pytest.raises(ContentFiltered):
        await chat("openai", root + "/v1", {"messages": USER}, model="content-filter")


# --- stream shapes from other OpenAI-compatible servers (MockTransport) ---------------------------


def sse_reply(*events: object, status: int = 200) -> httpx.MockTransport:
    lines = "".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events)
    return httpx.MockTransport(lambda _: httpx.Response(
        status, content=lines.encode(), headers={"content-type": "text/event-stream"}))


def delta_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": delta, "finish_reason": finish}], **extra}


async def mock_chat(transport: httpx.MockTransport) -> list[ChatChunk]:
    async with httpx.AsyncClient(transport=transport) as client:
        e = engine("openai-compatible", "http://upstream/v1", client)
        return [c async for c in e.chat({"model": e.model_id, "messages": USER})]


async def test_azure_filter_chunks_and_usage_in_the_finish_chunk() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    chunks = await mock_chat(sse_reply(
        {"choices": [], "prompt_filter_results": [{"prompt_index": 0}]},
        delta_chunk({"role": "assistant", "content": ""}),
        delta_chunk({"content": "Hi"}),
        delta_chunk({}, "stop", usage=usage), "[DONE]"))
    assert [(c.text, c.finish_reason) for c in chunks] == [("Hi", None), ("", "stop")]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 5


@pytest.mark.parametrize(("reason", "ours"), [("length", "length"), ("content_filter", "content_filter"),
                                               ("function_call", "tool_calls"), ("eos_token", "stop")])
async def test_finish_reasons_map_to_openais_words(reason: str, ours: str) -> None:
    chunks = await mock_chat(sse_reply(delta_chunk({"content": "x"}), delta_chunk({}, reason),
                                       delta_chunk({}, reason), "[DONE]"))
    assert finishes(chunks) == [ours], "exactly one finish, even if the server repeats it"


async def test_refusal_reaches_the_client_as_text() -> None:
    chunks = await mock_chat(sse_reply(delta_chunk({"refusal": "I can't help."}),
                                       delta_chunk({}, "stop"), "[DONE]"))
    assert text_of(chunks) == "I can't help."


@pytest.mark.parametrize(("error", "raised"), [
    ({"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}, RateLimited),
    ({"message": "busy", "type": "overloaded_error"}, EngineUnavailable),
    ({"object": "error", "message": "worker died", "type": "InternalServerError", "code": 503},
     EngineUnavailable),
    ({"message": "oops", "type": "server_error", "code": None}, EngineFailed),
    ({"message": "filtered", "type": None, "code": "content_filter"}, ContentFiltered),
])
async def test_an_error_chunk_in_the_stream_raises(error: dict[str, Any], raised: type[Exception]) -> None:
    received: list[ChatChunk] = []
    async with httpx.AsyncClient(transport=sse_reply(delta_chunk({"content": "par"}),
                                                     {"error": error})) as client:
        e = engine("openai-compatible", "http://upstream/v1", client)
        with pytest.raises(raised):
            async for chunk in e.chat({"model": e.model_id, "messages": USER}):
                received.append(chunk)
    assert text_of(received) == "par"


@pytest.mark.parametrize("events", [
    (delta_chunk({"content": "cut"}),),  # no finish_reason, no [DONE]
    (delta_chunk({"content": "cut"}), "[DONE]"),
    (delta_chunk({"content": ["not", "a", "string"]}, "stop"),),
    ("[1, 2]",),
    (delta_chunk({}, "abort"),),
])
async def test_malformed_or_unfinished_streams_fail(events: tuple[object, ...]) -> None:
    with pytest.raises(EngineFailed):
        await mock_chat(sse_reply(*events))


@pytest.mark.parametrize(("status", "body", "raised", "detail"), [
    (400, b'{"object": "error", "message": "bad top_k", "type": "BadRequestError", "code": 400}',
     InvalidRequest, "bad top_k"),
    (422, b'{"detail": "field required"}', InvalidRequest, "field required"),
    (400, b'{"error": "plain words"}', InvalidRequest, "plain words"),
    (502, b"<html>bad gateway</html>", EngineUnavailable, "bad gateway"),
    (500, b"", EngineFailed, "HTTP 500"),
    (400, b'{"error": {"message": "Invalid type for \'safety_identifier\'", "type": "invalid_request_error",'
          b' "code": "invalid_type"}}', InvalidRequest, "safety_identifier"),
    (400, b'{"error": {"message": "Your request was rejected as a result of our safety system.",'
          b' "type": "invalid_request_error", "code": null}}', ContentFiltered, "safety system"),
])
async def test_error_bodies_of_other_servers(status: int, body: bytes, raised: type[Exception],
                                             detail: str) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(status, content=body))
    with pytest.raises(raised) as err:
        await mock_chat(transport)
    assert type(err.value) is raised and detail in str(err.value)
