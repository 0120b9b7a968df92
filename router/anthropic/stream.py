"""Anthropic Messages answers: the stream's formatter (`AnthropicFormat`, from the chat service's typed
run events) and the whole `message` (from an OpenAI `chat.completion`)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from router.anthropic.translate import STOP_REASONS
from router.http import anthropic_error_type
from router.run_events import Delta, RunDone, RunError, RunEvent, RunStarted
from router.sse import compact_json, named_sse_event
from serving.engine import Usage

__all__ = ["AnthropicFormat", "anthropic_usage", "message_id", "to_anthropic_message"]


def message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


def to_anthropic_message(completion: dict[str, Any], msg_id: str, usage: Usage | None) -> dict[str, Any]:
    """An Anthropic `message` from an OpenAI `chat.completion` and the run's usage."""
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
    return {
        "id": msg_id, "type": "message", "role": "assistant", "model": completion["model"],
        "content": content, "stop_reason": STOP_REASONS.get(choice.get("finish_reason"), "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage(usage),
    }


def anthropic_usage(u: Usage | None) -> dict[str, Any]:
    """Anthropic's usage from ours: `input_tokens` there excludes cache reads and writes."""
    if u is None:
        return {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                "output_tokens": 0}
    out: dict[str, Any] = {
        "input_tokens": max(0, u.prompt_tokens - u.cached_tokens - u.cache_write_tokens),
        "cache_creation_input_tokens": u.cache_write_tokens, "cache_read_input_tokens": u.cached_tokens,
        "output_tokens": u.completion_tokens}
    if u.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
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


class AnthropicFormat:
    """Anthropic's named stream events: `message_start`, content blocks (thinking, text, tool_use) with
    their deltas, then `message_delta` (stop reason, usage) and `message_stop`; an error mid-answer
    closes the open block and is one `error` event with Anthropic's type for its status."""

    def __init__(self, msg_id: str) -> None:
        self._id = msg_id
        self._index = -1  # the open (or last) content block's index
        self._open: str | None = None  # "thinking", "text" or "tool:<OpenAI tool-call index>"
        self._text_head = ""  # the open text block's text_delta event up to its text (hot path)

    def frames(self, event: RunEvent) -> bytes:
        if isinstance(event, Delta):
            return self._delta(event)
        if isinstance(event, RunStarted):
            return named_sse_event("message_start", {"type": "message_start", "message": {
                "id": self._id, "type": "message", "role": "assistant", "model": event.model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0}}})
        if isinstance(event, RunDone):
            stop_reason = STOP_REASONS.get(event.finish_reason or "", "end_turn")
            stop = {"stop_reason": stop_reason, "stop_sequence": None}
            return (self._close()
                    + named_sse_event("message_delta", {"type": "message_delta", "delta": stop,
                                                        "usage": anthropic_usage(event.usage)})
                    + named_sse_event("message_stop", {"type": "message_stop"}))
        return self.failure(event)

    def failure(self, error: RunError) -> bytes:
        kind = anthropic_error_type(error.status)
        body = {"type": "error", "error": {"type": kind, "message": error.message}}
        return self._close() + named_sse_event("error", body)

    def end(self) -> bytes:
        return b""

    def _delta(self, delta: Delta) -> bytes:
        out = b""
        if delta.reasoning:
            out += self._switch("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out += self._block_delta({"type": "thinking_delta", "thinking": delta.reasoning})
        if delta.text:
            if self._open != "text":
                out += self._switch("text", {"type": "text", "text": ""})
                self._text_head = ('event: content_block_delta\ndata: {"type":"content_block_delta",'
                                   f'"index":{self._index},"delta":{{"type":"text_delta","text":')
            out += (self._text_head + compact_json(delta.text) + "}}\n\n").encode()
        for call in delta.tool_calls:
            kind = f"tool:{call.index}"
            if call.id:
                extra = {"extra_content": dict(call.extra)} if call.extra else {}
                out += self._switch(kind, {"type": "tool_use", "id": call.id, "name": call.name or "",
                                           "input": {}, **extra})
            if call.arguments and self._open == kind:
                out += self._block_delta({"type": "input_json_delta", "partial_json": call.arguments})
        return out

    def _block_delta(self, delta: dict[str, Any]) -> bytes:
        return named_sse_event("content_block_delta",
                               {"type": "content_block_delta", "index": self._index, "delta": delta})

    def _switch(self, kind: str, start_block: dict[str, Any]) -> bytes:
        if self._open == kind:
            return b""
        out = self._close()
        self._index += 1
        self._open = kind
        start = {"type": "content_block_start", "index": self._index, "content_block": start_block}
        return out + named_sse_event("content_block_start", start)

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return named_sse_event("content_block_stop", {"type": "content_block_stop", "index": self._index})
