"""`serving.ray_engine` against a fake Serve `DeploymentHandle` (no Ray, no vLLM)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from ray.exceptions import RaySystemError

from serving.engine import (
    ChatChunk,
    ChatEngine,
    EmbeddingEngine,
    EmbeddingResult,
    EngineStats,
    ToolCallDelta,
    Usage,
)
from serving.errors import (
    ContextLengthExceeded,
    EngineFailed,
    EngineUnavailable,
    InvalidRequest,
)
from serving.ray_engine import RayChatEngine, RayEmbeddingEngine, chunk_from_openai, engine_error


def ray_failure(message: str) -> BaseException:
    """An exception as Ray raises them for a cluster failure (a dead replica, a lost controller)."""
    return RaySystemError(message)  # type: ignore[no-untyped-call]


MODEL = "gemma-3-270m"
APP = "llm-gemma-3-270m"
CONTEXT = 2048
VLLM_CONTEXT_ERROR = ("This model's maximum context length is 2048 tokens. However, you requested "
                      "3100 tokens (3000 in the messages, 100 in the completion).")


# --- a fake DeploymentHandle -----------------------------------------------------------------------


class FakeResponseGenerator:
    """Like Serve's `DeploymentResponseGenerator`: async-iterates batches and can be cancelled."""

    def __init__(self, batches: list[list[Any]], fail_with: BaseException | None = None) -> None:
        self._batches = list(batches)
        self._fail_with = fail_with
        self.cancelled = 0

    def __aiter__(self) -> FakeResponseGenerator:
        return self

    async def __anext__(self) -> list[Any]:
        if self._batches:
            return self._batches.pop(0)
        if self._fail_with is not None:
            raise self._fail_with
        raise StopAsyncIteration

    def cancel(self) -> None:
        self.cancelled += 1


async def _outcome(value: Any) -> Any:
    if isinstance(value, BaseException):
        raise value
    return value


class FakeMethod:
    """`handle.<method>`: `.remote(...)` returns an awaitable (or, for streams, the generator)."""

    def __init__(self, result: Any = None, *, stream: bool = False, raises: BaseException | None = None):
        self.result = result
        self.stream = stream
        self.raises = raises
        self.calls: list[tuple[Any, ...]] = []

    def remote(self, *args: Any) -> Any:
        self.calls.append(args)
        if self.raises is not None:
            raise self.raises
        return self.result if self.stream else _outcome(self.result)


class FakeHandle:
    def __init__(self, stream: FakeResponseGenerator | None = None, *,
                 remote_error: BaseException | None = None,
                 health: Any = None, stats: Any = None, embed: Any = None) -> None:
        self.chat_from_dict = FakeMethod(stream, stream=True, raises=remote_error)
        self.check_health = FakeMethod(health)
        self.engine_stats = FakeMethod(stats)
        self.embed = FakeMethod(embed)
        self.options_calls: list[dict[str, Any]] = []

    def options(self, **kwargs: Any) -> FakeHandle:
        self.options_calls.append(kwargs)
        return self


class Handles:
    """A `HandleProvider` that records which applications were asked for."""

    def __init__(self, handle: FakeHandle | BaseException) -> None:
        self.handle = handle
        self.apps: list[str] = []

    def __call__(self, app_name: str) -> FakeHandle:
        self.apps.append(app_name)
        if isinstance(self.handle, BaseException):
            raise self.handle
        return self.handle


def chunk_json(content: str | None = None, *, role: str | None = None, finish: str | None = None,
               usage: Mapping[str, int] | None = None) -> str:
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    payload: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": MODEL,
                               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        payload = {**payload, "choices": [], "usage": dict(usage)}
    return json.dumps(payload)


HAPPY_BATCHES = [
    [chunk_json("", role="assistant"), chunk_json("Hello")],
    [chunk_json(" world"), chunk_json(finish="stop")],
    [chunk_json(usage={"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}), "[DONE]"],
]


def chat_engine(handle: FakeHandle | BaseException) -> tuple[RayChatEngine, Handles]:
    handles = Handles(handle)
    return RayChatEngine(MODEL, APP, handles, CONTEXT), handles


async def collect(engine: RayChatEngine, body: Mapping[str, Any] | None = None) -> list[ChatChunk]:
    return [c async for c in engine.chat(body or {"messages": [{"role": "user", "content": "hi"}]})]


# --- chunk_from_openai -----------------------------------------------------------------------------


def test_chunk_from_openai_reads_role_text_and_finish_reason() -> None:
    assert chunk_from_openai(json.loads(chunk_json("", role="assistant"))) == [ChatChunk(role="assistant")]
    assert chunk_from_openai(json.loads(chunk_json("Hi"))) == [ChatChunk(text="Hi")]
    assert chunk_from_openai(json.loads(chunk_json(finish="length"))) == [ChatChunk(finish_reason="length")]


def test_chunk_from_openai_reads_usage_from_a_chunk_without_choices() -> None:
    payload = json.loads(chunk_json(usage={"prompt_tokens": 7, "completion_tokens": 2}))

    assert chunk_from_openai(payload) == [ChatChunk(usage=Usage(prompt_tokens=7, completion_tokens=2))]


def test_chunk_from_openai_reads_tool_call_pieces() -> None:
    payload = {"choices": [{"index": 0, "finish_reason": None, "delta": {"tool_calls": [
        {"index": 0, "id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": ""}}]}}]}
    more = {"choices": [{"index": 0, "finish_reason": "tool_calls", "delta": {"tool_calls": [
        {"index": 0, "function": {"arguments": '{"city": "Bern"}'}}]}}]}

    assert chunk_from_openai(payload) == [
        ChatChunk(tool_calls=(ToolCallDelta(0, id="call_1", name="get_weather"),))]
    assert chunk_from_openai(more) == [
        ChatChunk(finish_reason="tool_calls", tool_calls=(ToolCallDelta(0, arguments='{"city": "Bern"}'),))]


def test_chunk_from_openai_tolerates_nulls() -> None:
    payload = {"choices": [{"index": 0, "delta": {"content": None}, "finish_reason": None}], "usage": None}

    assert chunk_from_openai(payload) == [ChatChunk()]
    assert chunk_from_openai({"choices": None}) == []


# --- engine_error ----------------------------------------------------------------------------------


def test_vllm_context_length_error_becomes_context_length_exceeded() -> None:
    error = engine_error({"message": VLLM_CONTEXT_ERROR, "type": "BadRequestError", "code": 400}, CONTEXT)

    assert isinstance(error, ContextLengthExceeded)
    assert error.status_code == 400 and error.code == "context_length_exceeded"
    assert error.param == "messages"
    assert "3100 tokens" in error.message  # vLLM's own numbers are kept
    assert "context is 2048 tokens" in error.message


@pytest.mark.parametrize("code", [400, 404, 422])
def test_other_client_errors_become_invalid_request(code: int) -> None:
    error = engine_error({"message": "temperature must be non-negative", "code": code}, CONTEXT)

    assert type(error) is InvalidRequest
    assert error.status_code == 400
    assert error.message == "temperature must be non-negative"


def test_503_becomes_engine_unavailable() -> None:
    error = engine_error({"message": "engine is overloaded", "code": 503}, CONTEXT)

    assert isinstance(error, EngineUnavailable)
    assert error.status_code == 503


@pytest.mark.parametrize("error_object", [
    {"message": "CUDA out of memory", "code": 500},
    {"message": "something broke"},
    {"message": "weird", "code": "internal"},
    {},
])
def test_other_errors_become_engine_failed(error_object: dict[str, Any]) -> None:
    error = engine_error(error_object, CONTEXT)

    assert type(error) is EngineFailed
    assert error.status_code == 502
    assert error.message.startswith("the engine failed: ")


# --- RayChatEngine ---------------------------------------------------------------------------------


def test_ray_engines_implement_the_engine_interfaces() -> None:
    handles = Handles(FakeHandle())
    assert isinstance(RayChatEngine(MODEL, APP, handles, CONTEXT), ChatEngine)
    embedder = RayEmbeddingEngine("all-minilm-l6-v2", "llm-all-minilm-l6-v2", handles)
    assert isinstance(embedder, EmbeddingEngine)


@pytest.mark.asyncio
async def test_chat_parses_every_chunk_of_every_batch() -> None:
    stream = FakeResponseGenerator(HAPPY_BATCHES)
    engine, handles = chat_engine(FakeHandle(stream))

    chunks = await collect(engine)

    assert chunks == [ChatChunk(role="assistant"), ChatChunk(text="Hello"), ChatChunk(text=" world"),
                      ChatChunk(finish_reason="stop"),
                      ChatChunk(usage=Usage(prompt_tokens=7, completion_tokens=2))]
    assert handles.apps == [APP]


@pytest.mark.asyncio
async def test_chat_sends_a_streaming_request_with_usage_for_its_own_model() -> None:
    handle = FakeHandle(FakeResponseGenerator(HAPPY_BATCHES))
    engine, _ = chat_engine(handle)

    await collect(engine, {"model": "local/gemma-3-270m", "messages": [], "top_k": 5, "stream": False})

    assert handle.options_calls == [{"stream": True}]
    [(body,)] = handle.chat_from_dict.calls
    assert body["model"] == MODEL
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["top_k"] == 5


@pytest.mark.asyncio
async def test_a_full_run_does_not_cancel() -> None:
    stream = FakeResponseGenerator(HAPPY_BATCHES)
    engine, _ = chat_engine(FakeHandle(stream))

    await collect(engine)

    assert stream.cancelled == 0


@pytest.mark.asyncio
async def test_closing_the_stream_early_cancels_the_serve_request() -> None:
    stream = FakeResponseGenerator(HAPPY_BATCHES)
    engine, _ = chat_engine(FakeHandle(stream))

    chunks = engine.chat({"messages": []})
    first = await anext(chunks)
    await chunks.aclose()  # type: ignore[attr-defined]

    assert first == ChatChunk(role="assistant")
    assert stream.cancelled == 1


@pytest.mark.parametrize("error_item", [
    {"error": {"message": VLLM_CONTEXT_ERROR, "code": 400}},
    json.dumps({"error": {"message": VLLM_CONTEXT_ERROR, "code": 400}}),
    {"message": VLLM_CONTEXT_ERROR, "code": 400},  # older vLLM: the error fields at the top level
])
@pytest.mark.asyncio
async def test_an_error_item_raises_the_mapped_error(error_item: Any) -> None:
    stream = FakeResponseGenerator([[chunk_json("", role="assistant")], [error_item]])
    engine, _ = chat_engine(FakeHandle(stream))

    with pytest.raises(ContextLengthExceeded, match="2048"):
        await collect(engine)
    assert stream.cancelled == 1


@pytest.mark.asyncio
async def test_an_error_before_the_first_chunk_raises_before_anything_is_yielded() -> None:
    stream = FakeResponseGenerator([[{"error": {"message": "engine is overloaded", "code": 503}}]])
    engine, _ = chat_engine(FakeHandle(stream))

    with pytest.raises(EngineUnavailable, match="overloaded"):
        await anext(engine.chat({"messages": []}))


@pytest.mark.asyncio
async def test_an_exception_while_streaming_becomes_engine_unavailable() -> None:
    stream = FakeResponseGenerator([[chunk_json("Hi")]], fail_with=ray_failure("actor 3f2a died: secret"))
    engine, _ = chat_engine(FakeHandle(stream))

    with pytest.raises(EngineUnavailable) as caught:
        await collect(engine)

    assert MODEL in caught.value.message
    assert "RaySystemError" in caught.value.message
    assert "secret" not in caught.value.message
    assert stream.cancelled == 1


@pytest.mark.asyncio
async def test_an_exception_from_the_handle_call_becomes_engine_unavailable() -> None:
    engine, _ = chat_engine(FakeHandle(remote_error=ray_failure("controller is gone")))

    with pytest.raises(EngineUnavailable, match=MODEL):
        await collect(engine)


@pytest.mark.asyncio
async def test_a_missing_deployment_is_engine_unavailable() -> None:
    engine, _ = chat_engine(EngineUnavailable("the deployment for this model is DEPLOYING"))

    with pytest.raises(EngineUnavailable, match="DEPLOYING"):
        await collect(engine)


@pytest.mark.asyncio
async def test_check_health_and_stats_from_the_engines_scheduler_and_the_replica_count() -> None:
    reply = {"unfinished": 5.0, "running": 3.0, "waiting": 2.0, "kv_cache_usage": 0.25, "ready": 1.0}
    asked: list[str] = []

    def two_replicas(app: str) -> int:
        asked.append(app)
        return 2

    engine = RayChatEngine(MODEL, APP, Handles(FakeHandle(health=None, stats=reply)), CONTEXT,
                           replicas=two_replicas)

    await engine.check_health()
    assert await engine.stats() == EngineStats(running=3, waiting=2, replicas=2, kv_cache_usage=0.25)
    assert asked == [APP]


@pytest.mark.asyncio
async def test_stats_without_scheduler_stats_count_every_unfinished_request_as_running() -> None:
    engine, _ = chat_engine(FakeHandle(stats={"unfinished": 3.0, "ready": 1.0}))

    assert await engine.stats() == EngineStats(running=3, waiting=0, replicas=1, kv_cache_usage=None)

    engine, _ = chat_engine(FakeHandle(stats={"unfinished": 1.0, "running": 1.0, "waiting": 0.0,
                                              "kv_cache_usage": None, "ready": 1.0}))
    assert await engine.stats() == EngineStats(running=1, waiting=0, replicas=1, kv_cache_usage=None)


@pytest.mark.asyncio
async def test_failing_health_check_and_stats_are_engine_unavailable() -> None:
    failure = ray_failure("replica unreachable")
    engine, _ = chat_engine(FakeHandle(health=failure, stats=failure))

    with pytest.raises(EngineUnavailable, match=MODEL):
        await engine.check_health()
    with pytest.raises(EngineUnavailable, match=MODEL):
        await engine.stats()


# --- RayEmbeddingEngine ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_embedding_engine_returns_vectors_and_tokens() -> None:
    handle = FakeHandle(embed={"vectors": [[0.5, -0.25]], "prompt_tokens": 3})
    engine = RayEmbeddingEngine("all-minilm-l6-v2", "llm-all-minilm-l6-v2", Handles(handle))

    assert await engine.embed(["hi there"]) == EmbeddingResult(vectors=[[0.5, -0.25]], prompt_tokens=3)
    assert handle.embed.calls == [(["hi there"],)]


@pytest.mark.asyncio
async def test_embedding_engine_failures_are_engine_unavailable() -> None:
    handle = FakeHandle(embed=ray_failure("boom"), health=ray_failure("boom"))
    engine = RayEmbeddingEngine("all-minilm-l6-v2", "llm-all-minilm-l6-v2", Handles(handle))

    with pytest.raises(EngineUnavailable, match="all-minilm-l6-v2"):
        await engine.embed(["hi"])
    with pytest.raises(EngineUnavailable, match="all-minilm-l6-v2"):
        await engine.check_health()


# --- our own bugs are not the cluster's failures --------------------------------------------------


@pytest.mark.asyncio
async def test_a_bug_while_streaming_is_not_turned_into_engine_unavailable() -> None:
    stream = FakeResponseGenerator([[chunk_json("Hi")]], fail_with=TypeError("our bug"))
    engine, _ = chat_engine(FakeHandle(stream))

    with pytest.raises(TypeError, match="our bug"):
        await collect(engine)
    assert stream.cancelled == 1


@pytest.mark.asyncio
async def test_a_malformed_chunk_from_the_replica_is_engine_failed_not_unavailable() -> None:
    stream = FakeResponseGenerator([[chunk_json("Hi"), "{not json", "[DONE]"]])
    engine, _ = chat_engine(FakeHandle(stream))

    with pytest.raises(EngineFailed, match="malformed") as caught:
        await collect(engine)
    assert not isinstance(caught.value, EngineUnavailable)


@pytest.mark.asyncio
async def test_a_bug_in_health_or_stats_calls_is_not_turned_into_engine_unavailable() -> None:
    engine, _ = chat_engine(FakeHandle(health=KeyError("ours"), stats=AttributeError("ours")))

    with pytest.raises(KeyError):
        await engine.check_health()
    with pytest.raises(AttributeError):
        await engine.stats()


@pytest.mark.asyncio
async def test_tool_calls_from_a_local_model_reach_the_client_chunks() -> None:
    call = json.dumps({"choices": [{"index": 0, "finish_reason": None, "delta": {"tool_calls": [
        {"index": 0, "id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}]})
    stream = FakeResponseGenerator([[chunk_json("", role="assistant"), call,
                                     chunk_json(finish="tool_calls")]])
    engine, _ = chat_engine(FakeHandle(stream))

    chunks = await collect(engine)

    assert [c.tool_calls for c in chunks if c.tool_calls] == [(ToolCallDelta(0, id="call_9", name="f",
                                                                             arguments="{}"),)]
    assert chunks[-1].finish_reason == "tool_calls"


def test_every_local_model_with_tools_configures_vllms_tool_call_parser() -> None:
    from models.catalogue import load_catalogue
    from serving.llm_config import engine_kwargs

    local_tools = [m for m in load_catalogue().models
                   if m.is_local and m.capabilities.tools and m.engine is not None]
    assert local_tools
    for entry in local_tools:
        assert entry.engine is not None
        kwargs = engine_kwargs(entry.engine)
        assert kwargs["enable_auto_tool_choice"] is True, entry.id
        assert kwargs["tool_call_parser"], entry.id
