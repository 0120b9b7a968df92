"""POST /v1/messages: the official `anthropic` SDK against the router, answered by fake engines."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import anthropic
import httpx
import pytest

from serving.engine import ChatChunk, EngineStats, ToolCallDelta, Usage
from tests.fake_providers.runner import serve_app
from tests.fakes import FakeChatEngine, build_fake_app

MODEL = "gemma-3-270m"


class ToolCallingEngine:
    """Answers every request with one streamed call to `get_weather({"city": "Paris"})`."""

    def __init__(self, model_id: str = MODEL) -> None:
        self.model_id = model_id
        self.requests: list[dict[str, Any]] = []

    async def chat(self, request: Mapping[str, Any]) -> AsyncIterator[ChatChunk]:
        self.requests.append(dict(request))
        yield ChatChunk(role="assistant")
        yield ChatChunk(tool_calls=(ToolCallDelta(0, id="call_1", name="get_weather", arguments=""),))
        yield ChatChunk(tool_calls=(ToolCallDelta(0, arguments='{"city": '),))
        yield ChatChunk(tool_calls=(ToolCallDelta(0, arguments='"Paris"}'),))
        yield ChatChunk(finish_reason="tool_calls")
        yield ChatChunk(usage=Usage(prompt_tokens=20, completion_tokens=9))

    async def check_health(self) -> None:
        return None

    async def stats(self) -> EngineStats:
        return EngineStats(running=0, waiting=0, replicas=1)


@pytest.fixture
def echo() -> FakeChatEngine:
    return FakeChatEngine(MODEL)


def client_for(engine: Any) -> Iterator[anthropic.Anthropic]:
    fake = build_fake_app([engine])
    with serve_app(fake.app) as url, anthropic.Anthropic(base_url=url, api_key="unused",
                                                            max_retries=0) as client:
        yield client


@pytest.fixture
def client(echo: FakeChatEngine) -> Iterator[anthropic.Anthropic]:
    yield from client_for(echo)


@pytest.fixture
def tool_engine() -> ToolCallingEngine:
    return ToolCallingEngine()


@pytest.fixture
def tool_client(tool_engine: ToolCallingEngine) -> Iterator[anthropic.Anthropic]:
    yield from client_for(tool_engine)


def test_messages_create_answers_in_anthropic_shape(
    client: anthropic.Anthropic, echo: FakeChatEngine
) -> None:
    message = client.messages.create(model=MODEL, max_tokens=50, system="Be brief.",
                                     messages=[{"role": "user", "content": "hello there"}])
    assert message.model == MODEL
    assert message.content[0].type == "text"
    assert "hello there" in message.content[0].text
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0
    sent = echo.requests[-1]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["max_tokens"] == 50


def test_messages_stream_text(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=50,
                                messages=[{"role": "user", "content": "one two three"}]) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) >= 3
    assert "".join(pieces) == final.content[0].text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_tool_use_round_trip_both_ways(
    tool_client: anthropic.Anthropic, tool_engine: ToolCallingEngine
) -> None:
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}}}}]
    message = tool_client.messages.create(
        model=MODEL, max_tokens=50, tools=tools, tool_choice={"type": "any"},
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_0", "name": "get_weather", "input": {"city": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_0", "content": "sunny"},
                {"type": "text", "text": "And Paris?"}]},
        ])
    block = message.content[0]
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"city": "Paris"}
    assert message.stop_reason == "tool_use"
    sent = tool_engine.requests[-1]
    assert sent["tool_choice"] == "required"
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["messages"][1]["tool_calls"][0]["function"]["arguments"] == json.dumps({"city": "Rome"})
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": "toolu_0", "content": "sunny"}


def test_streamed_tool_use_arrives_as_input_json_deltas(tool_client: anthropic.Anthropic) -> None:
    with tool_client.messages.stream(model=MODEL, max_tokens=50,
                                     messages=[{"role": "user", "content": "Weather?"}]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert "input_json" in kinds
    assert final.content[0].type == "tool_use"
    assert final.content[0].input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"


def test_errors_have_the_anthropic_shape(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as err:
        client.messages.create(model="no-such-model", max_tokens=5,
                               messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["type"] == "error"  # type: ignore[index]
    assert err.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=MODEL, max_tokens=5, extra_body={"temperature": 1.5},
                               messages=[{"role": "user", "content": "hi"}])


def test_missing_max_tokens_is_400_in_anthropic_shape(echo: FakeChatEngine) -> None:
    fake = build_fake_app([echo])
    with serve_app(fake.app) as url:
        reply = httpx.post(url + "/v1/messages", json={
            "model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert reply.status_code == 400
    body = reply.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


def test_a_tool_use_block_without_id_is_400(echo: FakeChatEngine) -> None:
    fake = build_fake_app([echo])
    with serve_app(fake.app) as url:
        reply = httpx.post(url + "/v1/messages", json={
            "model": MODEL, "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"},
                         {"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]},
                         {"role": "user", "content": "and?"}]})
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"


def test_non_streaming_messages_report_their_cost(echo: FakeChatEngine) -> None:
    fake = build_fake_app([echo])
    with serve_app(fake.app) as url:
        reply = httpx.post(url + "/v1/messages", json={
            "model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    assert reply.status_code == 200
    assert reply.headers["x-stellwerk-cost"] == "0"  # a local model: priced 0 until the cost model
    assert reply.json()["stellwerk"]["currency"] == "USD"
