"""The Gemini adapter: translation into Gemini's JSON, the fake's faithfulness (checked with Google's
own `google-genai` SDK), and the adapter against the fake over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from models.catalogue import ModelEntry
from serving.engine import ChatChunk
from serving.errors import (
    ContentFiltered,
    ContextLengthExceeded,
    EngineFailed,
    EngineUnavailable,
    InvalidRequest,
    ModelUnavailable,
    RateLimited,
    UpstreamAuthFailed,
)
from serving.remote.base import Timeouts
from serving.remote.gemini import GeminiChatEngine
from tests.fake_providers.gemini_server import create_app
from tests.fake_providers.runner import serve_app

KEY = "test-key"
WEATHER: dict[str, Any] = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "additionalProperties": False}}}
Sdk = Callable[..., genai.Client]
TOOL_TURN = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_0", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_0", "content": "sunny, 21 C"},
]


@pytest.fixture
def app() -> FastAPI:
    return create_app(expected_key=KEY)


@pytest.fixture
def url(app: FastAPI) -> Iterator[str]:
    with serve_app(app) as base:
        yield base


def entry(base_url: str, model: str, *, vision: bool = True, tools: bool = True) -> ModelEntry:
    return ModelEntry.model_validate({
        "id": f"gemini/{model}", "kind": "remote", "provider": "gemini", "license": "test",
        "remote": {"type": "gemini", "base_url": base_url, "model": model, "api_key_env": "UNUSED"},
        "capabilities": {"tools": tools, "json_mode": tools, "vision": vision, "context_length": 1000},
        "pricing": {"input_per_mtok": 1, "output_per_mtok": 2},
        "residency": {"jurisdiction": "US", "leaves_premises": True},
    })


def engine(base_url: str, client: httpx.AsyncClient, model: str = "fake-model", *, key: str = KEY,
           vision: bool = True, tools: bool = True) -> GeminiChatEngine:
    return GeminiChatEngine(entry(base_url, model, vision=vision, tools=tools), key, client,
                            Timeouts(connect_s=5, read_s=10, total_s=30))


async def chat(base_url: str, body: dict[str, Any], model: str = "fake-model", *, key: str = KEY,
               vision: bool = True) -> list[ChatChunk]:
    async with httpx.AsyncClient() as client:
        eng = engine(base_url, client, model, key=key, vision=vision)
        return [c async for c in eng.chat({"model": eng.model_id, **body})]


def sent(app: FastAPI) -> dict[str, Any]:
    body: dict[str, Any] = app.state.requests[-1]
    return body


def text_of(chunks: list[ChatChunk]) -> str:
    return "".join(c.text for c in chunks)


def finishes(chunks: list[ChatChunk]) -> list[str]:
    return [c.finish_reason for c in chunks if c.finish_reason]


def translate(body: dict[str, Any], *, vision: bool = True, tools: bool = True) -> dict[str, Any]:
    """The JSON the adapter would send, without the network."""
    eng = engine("https://generativelanguage.googleapis.com", httpx.AsyncClient(), vision=vision,
                 tools=tools)
    request = eng.build_request({"model": "gemini/fake-model", **body}, KEY)
    payload: dict[str, Any] = json.loads(request.content)
    return payload


# --- translation, as the fake receives it ------------------------------------------------------------


async def test_system_and_multi_turn_reach_gemini_as_system_instruction_and_roles(
        app: FastAPI, url: str) -> None:
    await chat(url, {"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": [{"type": "text", "text": "how are you?"}]},
    ]})
    body = sent(app)
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "Answer in English."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "Hello!"}]},
        {"role": "user", "parts": [{"text": "how are you?"}]},
    ]
    assert app.state.calls[-1] == {"path": "/v1beta/models/fake-model:streamGenerateContent",
                                   "alt": "sse", "key_via": "header"}


async def test_sampling_parameters_become_generation_config(app: FastAPI, url: str) -> None:
    await chat(url, {"messages": [{"role": "user", "content": "hi"}], "temperature": 0.5, "top_p": 0.9,
                     "top_k": 5, "max_tokens": 20, "seed": 7, "stop": "END", "presence_penalty": 0.1,
                     "frequency_penalty": 0.2, "n": 1, "user": "someone"})
    assert sent(app)["generationConfig"] == {
        "candidateCount": 1, "temperature": 0.5, "topP": 0.9, "topK": 5, "maxOutputTokens": 20,
        "seed": 7, "stopSequences": ["END"], "presencePenalty": 0.1, "frequencyPenalty": 0.2}


def test_max_completion_tokens_wins_and_stop_lists_pass_whole() -> None:
    config = translate({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5,
                        "max_completion_tokens": 9, "stop": ["a", "b"], "top_k": -1})["generationConfig"]
    assert config == {"candidateCount": 1, "maxOutputTokens": 9, "stopSequences": ["a", "b"]}


@pytest.mark.parametrize(("choice", "config"), [
    ("auto", {"mode": "AUTO"}),
    ("none", {"mode": "NONE"}),
    ("required", {"mode": "ANY"}),
    ({"type": "function", "function": {"name": "get_weather"}},
     {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
])
def test_tools_and_tool_choice(choice: object, config: dict[str, Any]) -> None:
    body = translate({"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER],
                      "tool_choice": choice})
    assert body["tools"] == [{"functionDeclarations": [{
        "name": "get_weather", "description": "Weather in a city",
        "parametersJsonSchema": WEATHER["function"]["parameters"]}]}]
    assert body["toolConfig"] == {"functionCallingConfig": config}


async def test_tool_calls_and_results_become_function_call_and_response_parts(
        app: FastAPI, url: str) -> None:
    chunks = await chat(url, {"messages": TOOL_TURN, "tools": [WEATHER]}, "tool-model")
    assert text_of(chunks) == "The tool said: sunny, 21 C"
    assert sent(app)["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                                                         "response": {"result": "sunny, 21 C"}}}]},
    ]


def test_parallel_tool_results_share_one_turn_and_json_results_are_parsed() -> None:
    calls = [{"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": "{}"}}
             for i, n in enumerate(["a", "b"])]
    contents = translate({"messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "Calling both.", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "c1", "content": "{\"ok\": true}"},
        {"role": "tool", "tool_call_id": "c0", "content": [{"type": "text", "text": "plain"}]},
    ]})["contents"]
    assert contents[1]["parts"][0] == {"text": "Calling both."}
    assert [p["functionCall"]["name"] for p in contents[1]["parts"][1:]] == ["a", "b"]
    assert contents[2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "b", "response": {"result": {"ok": True}}}},
        {"functionResponse": {"name": "a", "response": {"result": "plain"}}}]}


@pytest.mark.parametrize(("response_format", "config"), [
    ({"type": "text"}, {}),
    ({"type": "json_object"}, {"responseMimeType": "application/json"}),
    ({"type": "json_schema", "json_schema": {"name": "w", "strict": True, "schema": {"type": "object"}}},
     {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object"}}),
])
async def test_response_format(app: FastAPI, url: str, response_format: object,
                               config: dict[str, Any]) -> None:
    await chat(url, {"messages": [{"role": "user", "content": "hi"}], "response_format": response_format})
    assert sent(app)["generationConfig"] == {"candidateCount": 1, **config}


async def test_images_become_inline_or_file_data(app: FastAPI, url: str) -> None:
    await chat(url, {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp?size=2", "detail": "low"}},
    ]}]})
    assert sent(app)["contents"][0]["parts"] == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"fileUri": "https://example.com/cat.webp?size=2", "mimeType": "image/webp"}},
    ]


def test_images_are_refused_for_a_model_without_vision() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    with pytest.raises(InvalidRequest):
        translate({"messages": [{"role": "user", "content": [image]}]}, vision=False)


@pytest.mark.parametrize(("param", "value"), [
    ("tools", [WEATHER]), ("response_format", {"type": "json_object"})])
def test_tools_and_json_need_the_capability(param: str, value: object) -> None:
    with pytest.raises(InvalidRequest) as err:
        translate({"messages": [{"role": "user", "content": "hi"}], param: value}, tools=False)
    assert err.value.param == param


def test_reasoning_effort_sets_a_thinking_budget() -> None:
    body = translate({"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low"})
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 1024}


@pytest.mark.parametrize(("param", "value"), [
    ("ignore_eos", True), ("min_tokens", 5), ("repetition_penalty", 1.2), ("logprobs", True),
    ("parallel_tool_calls", False), ("n", 2), ("logit_bias", {"50256": -100}), ("guided_json", {}),
    ("reasoning_effort", "extreme"), ("response_format", {"type": "grammar"}),
])
def test_parameters_gemini_cannot_honour_are_refused(param: str, value: object) -> None:
    with pytest.raises(InvalidRequest) as err:
        translate({"messages": [{"role": "user", "content": "hi"}], param: value})
    assert err.value.param == param


def test_neutral_values_of_unsupported_parameters_pass() -> None:
    translate({"messages": [{"role": "user", "content": "hi"}], "repetition_penalty": 1.0,
               "logprobs": False, "ignore_eos": False, "parallel_tool_calls": True, "metadata": {"a": "b"}})


@pytest.mark.parametrize("messages", [
    [{"role": "tool", "tool_call_id": "nope", "content": "x"}],
    [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]}],
    [{"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "[1]"}}]}],
])
def test_malformed_messages_are_invalid_requests(messages: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidRequest):
        translate({"messages": messages})


def test_the_key_goes_in_the_header_only() -> None:
    eng = engine("https://generativelanguage.googleapis.com/", httpx.AsyncClient())
    request = eng.build_request({"model": "x", "messages": [{"role": "user", "content": "hi"}]}, "sk-1")
    assert str(request.url) == ("https://generativelanguage.googleapis.com/v1beta/models/fake-model"
                                ":streamGenerateContent?alt=sse")
    assert request.headers["x-goog-api-key"] == "sk-1"


# --- the fake is faithful: Google's own SDK talks to it ------------------------------------------------


@pytest.fixture
def sdk(url: str) -> Iterator[Sdk]:
    """Makes SDK clients for the fake (kept open until the test ends: a dropped client closes its HTTP
    connection pool)."""
    clients: list[genai.Client] = []

    def make(key: str = KEY) -> genai.Client:
        clients.append(genai.Client(api_key=key, http_options=types.HttpOptions(base_url=url)))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def test_sdk_generate_content(app: FastAPI, sdk: Sdk) -> None:
    response = sdk().models.generate_content(
        model="fake-model", contents="hello there",
        config=types.GenerateContentConfig(system_instruction="Be brief.", temperature=0.2,
                                           max_output_tokens=50, stop_sequences=["END"]))
    assert response.text == "You said: hello there"
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata is not None
    assert (response.usage_metadata.prompt_token_count, response.usage_metadata.candidates_token_count) \
        == (11, 7)
    call = app.state.calls[-1]  # google-genai 3.x calls /v1, the adapter /v1beta: Google serves both
    assert call["path"].endswith("/models/fake-model:generateContent")
    assert (call["alt"], call["key_via"]) == (None, "header")


def test_sdk_generate_content_stream(app: FastAPI, sdk: Sdk) -> None:
    pieces = list(sdk().models.generate_content_stream(model="fake-model", contents="hello there"))
    assert len(pieces) >= 3
    assert "".join(p.text or "" for p in pieces) == "You said: hello there"
    assert pieces[-1].candidates and pieces[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert app.state.calls[-1]["alt"] == "sse"


def _sdk_weather_tool() -> types.Tool:
    return types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Weather in a city",
        parameters_json_schema=WEATHER["function"]["parameters"])])


@pytest.mark.parametrize("stream", [False, True])
def test_sdk_function_call(sdk: Sdk, stream: bool) -> None:
    config = types.GenerateContentConfig(tools=[_sdk_weather_tool()])
    models = sdk().models
    if stream:
        calls = [c for r in models.generate_content_stream(model="tool-model", contents="Weather?",
                                                           config=config) for c in r.function_calls or []]
    else:
        calls = models.generate_content(model="tool-model", contents="Weather?", config=config) \
            .function_calls or []
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]


def test_sdk_function_response_round_trip(sdk: Sdk) -> None:
    contents = [
        types.Content(role="user", parts=[types.Part.from_text(text="Weather?")]),
        types.Content(role="model", parts=[types.Part.from_function_call(
            name="get_weather", args={"city": "Paris"})]),
        types.Content(role="user", parts=[types.Part.from_function_response(
            name="get_weather", response={"result": "sunny"})]),
    ]
    response = sdk().models.generate_content(
        model="tool-model", contents=contents,
        config=types.GenerateContentConfig(tools=[_sdk_weather_tool()]))
    assert response.text == "The tool said: sunny"


def test_sdk_gemini_3_needs_the_thought_signature_back(sdk: Sdk) -> None:
    config = types.GenerateContentConfig(tools=[_sdk_weather_tool()])
    first = sdk().models.generate_content(model="gemini-3-tool-model", contents="Weather?", config=config)
    part = first.candidates[0].content.parts[0]  # type: ignore[index,union-attr]
    assert part.function_call is not None and part.thought_signature  # bytes, as the SDK decodes them
    question = types.Content(role="user", parts=[types.Part.from_text(text="Weather?")])
    answer = types.Content(role="user", parts=[types.Part.from_function_response(
        name="get_weather", response={"result": "sunny"})])
    ok = sdk().models.generate_content(model="gemini-3-tool-model", config=config,
                                       contents=[question, first.candidates[0].content, answer])  # type: ignore[index,arg-type]
    assert ok.text == "The tool said: sunny"
    unsigned = types.Content(role="model", parts=[types.Part.from_function_call(
        name="get_weather", args={"city": "Paris"})])
    with pytest.raises(genai_errors.ClientError, match="thought_signature") as err:
        sdk().models.generate_content(model="gemini-3-tool-model", config=config,
                                      contents=[question, unsigned, answer])
    assert err.value.code == 400


def test_sdk_reads_cached_and_thought_token_counts(sdk: Sdk) -> None:
    response = sdk().models.generate_content(model="cached-model", contents="hi")
    usage = response.usage_metadata
    assert usage is not None and (usage.cached_content_token_count, usage.thoughts_token_count) == (8, 3)
    assert response.text == "You said: hi"  # the SDK leaves thought parts out of .text


def test_sdk_sees_safety_finish_and_google_errors(sdk: Sdk) -> None:
    response = sdk().models.generate_content(model="content-filter", contents="hi")
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.SAFETY
    with pytest.raises(genai_errors.ClientError) as limited:
        sdk().models.generate_content(model="rate-limited", contents="hi")
    assert (limited.value.code, limited.value.status) == (429, "RESOURCE_EXHAUSTED")
    with pytest.raises(genai_errors.ClientError) as bad:
        sdk(key="wrong").models.generate_content(model="fake-model", contents="hi")
    assert bad.value.code == 400 and "API key not valid" in str(bad.value.message)
    with pytest.raises(genai_errors.ServerError) as overloaded:
        list(sdk().models.generate_content_stream(model="overloaded", contents="hi"))
    assert overloaded.value.code == 503


def test_fake_accepts_the_key_as_a_query_parameter_like_google(url: str) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    ok = httpx.post(f"{url}/v1beta/models/fake-model:generateContent", params={"key": KEY}, json=body)
    assert ok.status_code == 200
    missing = httpx.post(f"{url}/v1beta/models/fake-model:generateContent", json=body)
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"


# --- the adapter against the fake ------------------------------------------------------------------


async def test_echo_text_usage_and_finish(url: str) -> None:
    chunks = await chat(url, {"messages": [{"role": "user", "content": "hello there"}]})
    assert text_of(chunks) == "You said: hello there"
    assert sum(1 for c in chunks if c.text) >= 3
    assert finishes(chunks) == ["stop"]
    usage = [c.usage for c in chunks if c.usage][-1]
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 7)


async def test_function_call_becomes_one_tool_call_delta(url: str) -> None:
    chunks = await chat(url, {"messages": [{"role": "user", "content": "Weather?"}], "tools": [WEATHER]},
                        "tool-model")
    deltas = [d for c in chunks for d in c.tool_calls]
    assert [(d.index, d.id, d.name) for d in deltas] == [(0, "call_0", "get_weather")]
    assert json.loads(deltas[0].arguments) == {"city": "Paris"}
    assert finishes(chunks) == ["tool_calls"]


async def test_safety_finish_is_content_filter_and_a_blocked_prompt_is_refused(url: str) -> None:
    user = {"messages": [{"role": "user", "content": "hi"}]}
    assert finishes(await chat(url, user, "content-filter")) == ["content_filter"]
    with pytest.raises(ContentFiltered) as err:
        await chat(url, user, "blocked-prompt")
    assert "SAFETY" in err.value.message


@pytest.mark.parametrize(("model", "key", "error"), [
    ("bad-key", "sk-live-secret-123", UpstreamAuthFailed),
    ("fake-model", "sk-live-secret-123", UpstreamAuthFailed),  # Google's 400 API_KEY_INVALID
    ("rate-limited", KEY, RateLimited),
    ("server-error", KEY, EngineFailed),
    ("overloaded", KEY, EngineUnavailable),
    ("unknown-model", KEY, ModelUnavailable),
    ("invalid-json", KEY, EngineFailed),
])
async def test_provider_errors_map_to_our_tree(url: str, model: str, key: str,
                                               error: type[Exception]) -> None:
    with pytest.raises(error) as err:
        await chat(url, {"messages": [{"role": "user", "content": "hi"}]}, model, key=key)
    assert "sk-live-secret-123" not in str(err.value)
    if isinstance(err.value, RateLimited):
        assert err.value.retry_after_s == 7


async def test_reset_mid_stream_fails_after_the_first_pieces(url: str) -> None:
    received: list[ChatChunk] = []
    async with httpx.AsyncClient() as client:
        eng = engine(url, client, "reset-mid-stream")
        with pytest.raises(EngineFailed):
            async for chunk in eng.chat({"messages": [{"role": "user", "content": "hi"}]}):
                received.append(chunk)
    assert text_of(received) == "You said: hel"


# --- stream and error details, with a scripted transport ----------------------------------------------


def scripted(status: int, body: bytes, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(
        lambda _: httpx.Response(status, content=body, headers=headers)))


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\r\n\r\n".encode() for e in events)


async def run_scripted(client: httpx.AsyncClient) -> list[ChatChunk]:
    async with client:
        eng = engine("https://gemini.invalid", client)
        return [c async for c in eng.chat({"messages": [{"role": "user", "content": "hi"}]})]


async def test_thoughts_are_reasoning_not_answer_and_billed_as_output() -> None:
    body = sse({"candidates": [{"content": {"role": "model", "parts": [
        {"text": "pondering", "thought": True}, {"text": "Answer"}]}, "finishReason": "MAX_TOKENS"}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "thoughtsTokenCount": 10}})
    chunks = await run_scripted(scripted(200, body))
    assert text_of(chunks) == "Answer"
    assert "".join(c.reasoning for c in chunks) == "pondering"
    assert chunks[-1].usage is not None and chunks[-1].usage.reasoning_tokens == 10
    assert finishes(chunks) == ["length"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 14


async def test_two_function_calls_get_distinct_indices_and_ids() -> None:
    parts = [{"functionCall": {"name": "a", "args": {}}}, {"functionCall": {"name": "b", "args": {"x": 1}}}]
    body = sse({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]})
    deltas = [d for c in await run_scripted(scripted(200, body)) for d in c.tool_calls]
    assert [(d.index, d.id, d.name, d.arguments) for d in deltas] == [
        (0, "call_0", "a", "{}"), (1, "call_1", "b", "{\"x\": 1}")]


@pytest.mark.parametrize(("events", "error"), [
    ([{"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}], RateLimited),
    ([{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}], EngineUnavailable),
    ([{"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL"}]}], EngineFailed),
    ([{"candidates": [{"content": {"parts": [{"text": "cut"}]}}]}], EngineFailed),  # no finish reason
])
async def test_errors_inside_the_stream(events: list[dict[str, Any]], error: type[Exception]) -> None:
    with pytest.raises(error):
        await run_scripted(scripted(200, sse(*events)))


async def test_retry_delay_comes_from_retry_info_without_a_header() -> None:
    body = json.dumps({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED",
                                 "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                              "retryDelay": "12s"}]}}).encode()
    with pytest.raises(RateLimited) as err:
        await run_scripted(scripted(429, body))
    assert err.value.retry_after_s == 12


async def test_too_long_prompts_are_context_length_errors() -> None:
    body = json.dumps({"error": {"code": 400, "status": "INVALID_ARGUMENT", "message":
                                 "The input token count (2000000) exceeds the maximum number of tokens "
                                 "allowed (1048576)."}}).encode()
    with pytest.raises(ContextLengthExceeded):
        await run_scripted(scripted(400, body))


async def test_non_json_error_bodies_are_tolerated() -> None:
    with pytest.raises(EngineFailed) as err:
        await run_scripted(scripted(500, b"<html>oops</html>"))
    assert "oops" in err.value.message
