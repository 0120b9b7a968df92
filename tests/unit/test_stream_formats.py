"""Each dialect's one stream formatter, from typed run events to its SSE frames, and the loop that runs it."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from router.anthropic.stream import AnthropicFormat
from router.chat.stream import OpenAIChatFormat
from router.errors import LedgerUnavailable
from router.responses.schemas import ResponsesRequest
from router.responses.stream import ResponseBuilder, ResponsesFormat
from router.run_events import Delta, RunDone, RunError, RunEvent, RunStarted
from router.sse import DONE, sse_event, sse_stream
from serving.engine import ToolCallDelta, Usage
from serving.errors import EngineFailed, RateLimited, StellwerkError
from tests.unit.test_stream_errors_by_dialect import named_events

START = RunStarted("chatcmpl-abc", 1_700_000_000, "gemma-3-270m")
USAGE = Usage(20, 9, cached_tokens=8, cache_write_tokens=2, reasoning_tokens=3)
CALL = ToolCallDelta(0, id="call_a", name="get_weather", extra={"google": {"thought_signature": "s"}})
ANSWER: list[RunEvent] = [
    START, Delta(reasoning="hmm"), Delta(text='Say "hi" 😀'), Delta(tool_calls=(CALL,)),
    Delta(tool_calls=(ToolCallDelta(0, arguments='{"city": "Paris"}'),)), Delta(finish_reason="tool_calls"),
    RunDone(USAGE, 0.000123, "USD", "tool_calls")]


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-abc", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "gemma-3-270m", "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                  "finish_reason": finish}]}


# --- OpenAI chat chunks ----------------------------------------------------------------------------


def test_openai_chunks_are_exactly_the_json_of_each_chunk_object() -> None:
    fmt = OpenAIChatFormat(include_usage=True)
    frames = [fmt.frames(event) for event in ANSWER]

    assert frames == [
        sse_event(chunk({"role": "assistant", "content": ""})),
        sse_event(chunk({"reasoning_content": "hmm"})),
        sse_event(chunk({"content": 'Say "hi" 😀'})),
        sse_event(chunk({"tool_calls": [{"index": 0, "function": {"arguments": "", "name": "get_weather"},
                                         "id": "call_a", "type": "function",
                                         "extra_content": {"google": {"thought_signature": "s"}}}]})),
        sse_event(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Paris"}'}}]})),
        sse_event(chunk({}, "tool_calls")),
        sse_event({**chunk({}), "choices": [], "usage": {
            "prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 2},
            "completion_tokens_details": {"reasoning_tokens": 3}},
            "stellwerk": {"cost": 0.000123, "currency": "USD"}}),
    ]
    assert fmt.end() == DONE


def test_openai_usage_chunk_only_when_asked_and_errors_are_openai_error_objects() -> None:
    fmt = OpenAIChatFormat(include_usage=False)
    fmt.frames(START)
    assert fmt.frames(RunDone(None, None, "USD", None)) == b""
    error = RunError.of(RateLimited("slow down"))
    expected = {"error": {"message": "slow down", "type": "rate_limit_error", "param": None,
                          "code": "rate_limited"}}
    assert fmt.frames(error) == fmt.failure(error) == sse_event(expected)
    with_usage = OpenAIChatFormat(include_usage=True)
    with_usage.frames(START)
    assert json.loads(with_usage.frames(RunDone(None, None, "EUR", "stop"))[6:])["usage"] is None


# --- Anthropic Messages events ---------------------------------------------------------------------


def test_anthropic_events_open_and_close_one_block_at_a_time() -> None:
    fmt = AnthropicFormat("msg_1")
    events = named_events(b"".join(fmt.frames(event) for event in ANSWER).decode())

    assert [(name, payload.get("index")) for name, payload in events] == [
        ("message_start", None),
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_stop", 1),
        ("content_block_start", 2), ("content_block_delta", 2), ("content_block_stop", 2),
        ("message_delta", None), ("message_stop", None)]
    assert events[0][1]["message"]["id"] == "msg_1" and events[0][1]["message"]["model"] == "gemma-3-270m"
    assert events[7][1]["content_block"] == {"type": "tool_use", "id": "call_a", "name": "get_weather",
                                             "input": {},
                                             "extra_content": {"google": {"thought_signature": "s"}}}
    assert events[8][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"city": "Paris"}'}
    assert events[10][1]["delta"]["stop_reason"] == "tool_use"
    assert events[10][1]["usage"] == {"input_tokens": 10, "cache_creation_input_tokens": 2,
                                      "cache_read_input_tokens": 8, "output_tokens": 9,
                                      "output_tokens_details": {"thinking_tokens": 3}}
    assert fmt.end() == b""


@pytest.mark.parametrize(("status", "kind"), [
    (400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"),
    (404, "not_found_error"), (429, "rate_limit_error"), (500, "api_error"), (502, "api_error"),
    (503, "overloaded_error"), (504, "timeout_error"), (529, "overloaded_error")])
def test_anthropic_error_closes_the_open_block_and_has_the_type_for_its_status(status: int,
                                                                              kind: str) -> None:
    fmt = AnthropicFormat("msg_1")
    fmt.frames(START)
    fmt.frames(Delta(text="partial"))
    events = named_events(fmt.frames(RunError(status, "whatever", None, "it broke")).decode())

    assert events == [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                      ("error", {"type": "error", "error": {"type": kind, "message": "it broke"}})]


# --- Responses API events --------------------------------------------------------------------------


def responses_format() -> ResponsesFormat:
    return ResponsesFormat(ResponseBuilder(ResponsesRequest(model="m", input="hi"), "gemma-3-270m", "resp_1"))


def test_responses_events_number_every_event_and_end_incomplete_at_the_output_limit() -> None:
    fmt = responses_format()
    answer: list[RunEvent] = [START, Delta(text="cut"), Delta(finish_reason="length"),
                              RunDone(Usage(5, 1), 0.0, "USD", "length")]
    events = named_events(b"".join(fmt.frames(event) for event in answer).decode())

    assert [name for name, _ in events] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.incomplete"]
    assert [payload["sequence_number"] for _, payload in events] == list(range(len(events)))
    final = events[-1][1]["response"]
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["usage"]["input_tokens"] == 5 and final["output"][0]["content"][0]["text"] == "cut"
    assert fmt.end() == b""


def test_responses_tool_call_becomes_a_function_call_item() -> None:
    fmt = responses_format()
    events = named_events(b"".join(fmt.frames(event) for event in ANSWER).decode())
    final = events[-1][1]["response"]

    assert events[-1][0] == "response.completed"
    assert [item["type"] for item in final["output"]] == ["reasoning", "message", "function_call"]
    call = final["output"][2]
    assert (call["call_id"], call["name"]) == ("call_a", "get_weather")
    assert call["arguments"] == '{"city": "Paris"}'
    assert call["extra_content"] == {"google": {"thought_signature": "s"}}
    assert final["usage"]["input_tokens_details"] == {"cached_tokens": 8, "cache_write_tokens": 2}


@pytest.mark.parametrize(("error", "code"), [
    (RateLimited("slow"), "rate_limit_exceeded"), (EngineFailed("died"), "server_error"),
    (StellwerkError("bug"), "server_error")])
def test_responses_failure_mid_answer_is_error_then_failed(error: StellwerkError, code: str) -> None:
    fmt = responses_format()
    fmt.frames(START)
    fmt.frames(Delta(text="partial"))
    events = named_events(fmt.frames(RunError.of(error)).decode())

    assert [name for name, _ in events][-2:] == ["error", "response.failed"]
    assert events[-2][1]["code"] == (error.code or error.error_type)
    assert events[-1][1]["response"]["error"] == {"code": code, "message": error.message}
    assert fmt.builder.failed


def test_responses_failure_after_the_end_is_one_error_event() -> None:
    fmt = responses_format()
    for event in (START, Delta(text="whole"), RunDone(None, None, "USD", "stop")):
        fmt.frames(event)
    events = named_events(fmt.failure(RunError.of(LedgerUnavailable("ledger down"))).decode())

    assert [name for name, _ in events] == ["error"]
    assert events[0][1]["code"] == "ledger_unavailable" and events[0][1]["sequence_number"] > 0


# --- the loop: an error raised while the events are made, in the stream's dialect ---------------------


async def _events_then(error: Exception) -> AsyncGenerator[RunEvent, None]:
    yield START
    yield RunDone(None, None, "USD", "stop")
    raise error


async def test_an_error_after_the_events_is_worded_by_the_dialect() -> None:
    anthropic = [f async for f in sse_stream(_events_then(LedgerUnavailable("down")), AnthropicFormat("m"))]
    openai = [f async for f in sse_stream(_events_then(LedgerUnavailable("down")),
                                          OpenAIChatFormat(include_usage=False))]
    bug = [f async for f in sse_stream(_events_then(KeyError("secret")), responses_format())]

    assert named_events(anthropic[-1].decode())[-1][1]["error"]["type"] == "overloaded_error"
    assert json.loads(openai[-2][6:])["error"]["code"] == "ledger_unavailable" and openai[-1] == DONE
    last = named_events(bug[-1].decode())
    assert [name for name, _ in last] == ["error"] and last[0][1]["code"] == "internal_error"
    assert "secret" not in b"".join(bug).decode()
