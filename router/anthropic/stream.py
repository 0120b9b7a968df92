"""Turn OpenAI-format answers (what `ChatRun` produces) into Anthropic Messages answers and events."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from router.anthropic.translate import STOP_REASONS

__all__ = ["anthropic_usage", "to_anthropic_events", "to_anthropic_message"]

# Our error types (OpenAI's words) as Anthropic names them, for errors in the middle of a stream.
_STREAM_ERROR_TYPES = {"invalid_request_error": "invalid_request_error",
                       "rate_limit_error": "rate_limit_error", "insufficient_quota": "rate_limit_error",
                       "service_unavailable": "overloaded_error",
                       "authentication_error": "authentication_error", "permission_error": "permission_error"}


def message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


def to_anthropic_message(completion: dict[str, Any], msg_id: str) -> dict[str, Any]:
    """An Anthropic `message` from an OpenAI `chat.completion`."""
    choice = completion["choices"][0]
    message = choice["message"]
    content: list[dict[str, Any]] = []
    if message.get("reasoning_content"):
        content.append({"type": "thinking", "thinking": message["reasoning_content"], "signature": ""})
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        content.append({"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                        "input": _json_object(call["function"]["arguments"]), **_extra(call)})
    usage = completion.get("usage") or {}
    return {
        "id": msg_id, "type": "message", "role": "assistant", "model": completion["model"],
        "content": content, "stop_reason": STOP_REASONS.get(choice.get("finish_reason"), "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage(usage),
    }


def anthropic_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic's usage from OpenAI's: `input_tokens` there excludes cache reads and writes."""
    details = usage.get("prompt_tokens_details") or {}
    cached, written = int(details.get("cached_tokens") or 0), int(details.get("cache_write_tokens") or 0)
    out: dict[str, Any] = {"input_tokens": max(0, int(usage.get("prompt_tokens", 0)) - cached - written),
                           "cache_creation_input_tokens": written, "cache_read_input_tokens": cached,
                           "output_tokens": usage.get("completion_tokens", 0)}
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if reasoning:
        out["output_tokens_details"] = {"thinking_tokens": reasoning}
    return out


def _extra(call: dict[str, Any]) -> dict[str, Any]:
    """What the provider wants back with this tool_use block (Gemini 3's signature, Claude's signed
    thinking), kept in the
    same opaque `extra_content` field as on the OpenAI tool call."""
    return {"extra_content": call["extra_content"]} if call.get("extra_content") else {}


def _json_object(arguments: str) -> Any:
    try:
        return json.loads(arguments) if arguments else {}
    except ValueError:
        return {"_raw": arguments}


class _Blocks:
    """Tracks the open content block while OpenAI deltas arrive."""

    def __init__(self) -> None:
        self.index = -1
        self.open: str | None = None  # "text" or "tool:<openai index>"

    def switch(self, kind: str, start_block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        if self.open == kind:
            return []
        events = self.close()
        self.index += 1
        self.open = kind
        events.append(("content_block_start", {"type": "content_block_start", "index": self.index,
                                               "content_block": start_block}))
        return events

    def close(self) -> list[tuple[str, dict[str, Any]]]:
        if self.open is None:
            return []
        self.open = None
        return [("content_block_stop", {"type": "content_block_stop", "index": self.index})]


async def to_anthropic_events(openai_events: AsyncGenerator[dict[str, Any], None], model: str,
                              msg_id: str) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
    """Anthropic's typed stream events from OpenAI `chat.completion.chunk` objects."""
    yield "message_start", {"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}}
    blocks = _Blocks()
    stop_reason, usage = "end_turn", dict[str, Any]()
    async with aclosing(openai_events):
        async for event in openai_events:
            if "error" in event:
                for item in blocks.close():
                    yield item
                err = event["error"]
                kind = _STREAM_ERROR_TYPES.get(err.get("type"), "api_error")
                yield "error", {"type": "error", "error": {"type": kind, "message": err.get("message")}}
                return
            for choice in event.get("choices") or []:
                for item in _delta_events(choice.get("delta") or {}, blocks):
                    yield item
                if choice.get("finish_reason"):
                    stop_reason = STOP_REASONS.get(choice["finish_reason"], "end_turn")
            usage = event.get("usage") or usage
    for item in blocks.close():
        yield item
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                            "usage": anthropic_usage(usage)}
    yield "message_stop", {"type": "message_stop"}


def _delta_events(delta: dict[str, Any], blocks: _Blocks) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    if delta.get("reasoning_content"):
        events += blocks.switch("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        events.append(("content_block_delta", {"type": "content_block_delta", "index": blocks.index,
                                               "delta": {"type": "thinking_delta",
                                                         "thinking": delta["reasoning_content"]}}))
    if delta.get("content"):
        events += blocks.switch("text", {"type": "text", "text": ""})
        events.append(("content_block_delta", {"type": "content_block_delta", "index": blocks.index,
                                               "delta": {"type": "text_delta", "text": delta["content"]}}))
    for call in delta.get("tool_calls") or []:
        kind = f"tool:{call['index']}"
        if call.get("id"):
            events += blocks.switch(kind, {"type": "tool_use", "id": call["id"],
                                           "name": call.get("function", {}).get("name", ""), "input": {},
                                           **_extra(call)})
        arguments = call.get("function", {}).get("arguments")
        if arguments and blocks.open == kind:
            events.append(("content_block_delta", {"type": "content_block_delta", "index": blocks.index,
                                                   "delta": {"type": "input_json_delta",
                                                             "partial_json": arguments}}))
    return events
