"""Anthropic's Messages stream events as `ChatChunk`s (the reading half of `anthropic_messages`).

`message_start` and `message_delta` carry cumulative usage; text, thinking and tool-use blocks arrive as
`content_block_start|delta|stop`. Thinking blocks come back as reasoning text, and a turn's signed
thinking blocks ride on its first tool call (`extra_content.anthropic.thinking`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from serving.engine import ChatChunk, ToolCallDelta, Usage

__all__ = ["StreamState"]

_STOP_REASONS: Mapping[str, str] = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
    "max_tokens": "length", "model_context_window_exceeded": "length",
    "tool_use": "tool_calls", "refusal": "content_filter",
}


@dataclass
class StreamState:
    """What a stream has said so far: tool blocks by Anthropic block index, usage, the stop reason."""

    tools: dict[int, int] = field(default_factory=dict)  # block index -> our tool-call index
    sent_args: set[int] = field(default_factory=set)  # blocks whose arguments were sent
    input_tokens: dict[str, int] = field(default_factory=dict)  # uncached, cache writes, cache reads
    output_tokens: int = 0
    thinking_tokens: int = 0  # of output_tokens (usage.output_tokens_details.thinking_tokens)
    thinking: dict[int, dict[str, Any]] = field(default_factory=dict)  # signed thinking blocks by index
    stop_reason: str | None = None
    started: bool = False

    def on_event(self, kind: str, data: Mapping[str, Any]) -> list[ChatChunk]:
        """The chunks one stream event (other than message_stop and error) adds."""
        if kind == "message_start":
            self.started = True
            _update_input_tokens(self, data["message"]["usage"])
            return []
        if not self.started and kind != "ping":
            raise ValueError(f"stream event {kind!r} before message_start")
        if kind == "content_block_start":
            return _block_start(self, int(data["index"]), data["content_block"])
        if kind == "content_block_delta":
            return _block_delta(self, int(data["index"]), data["delta"])
        if kind == "content_block_stop":
            return _block_stop(self, int(data["index"]))
        if kind == "message_delta":
            _message_delta(self, data)
        return []  # ping, and event types added after this adapter was written

    def finish(self) -> tuple[ChatChunk, str | None]:
        """The finish chunk with the usage, at message_stop; and the stop reason if it is unknown (it is
        reported as "stop")."""
        if self.stop_reason is None:
            raise ValueError("message_stop without a stop_reason")
        finish = _STOP_REASONS.get(self.stop_reason)
        unknown = None if finish is not None else self.stop_reason
        tokens = self.input_tokens
        usage = Usage(sum(tokens.values()), self.output_tokens,
                      cached_tokens=tokens.get("cache_read_input_tokens", 0),
                      cache_write_tokens=tokens.get("cache_creation_input_tokens", 0),
                      reasoning_tokens=self.thinking_tokens)
        return ChatChunk(finish_reason=finish or "stop", usage=usage), unknown


def _update_input_tokens(state: StreamState, usage: Mapping[str, Any]) -> None:
    """Usage counts are cumulative: a later value replaces an earlier one; absent ones stay."""
    for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        if usage.get(key) is not None:
            state.input_tokens[key] = int(usage[key])


def _message_delta(state: StreamState, data: Mapping[str, Any]) -> None:
    state.stop_reason = data["delta"].get("stop_reason") or state.stop_reason
    usage = data.get("usage") or {}
    state.output_tokens = int(usage["output_tokens"])
    details = usage.get("output_tokens_details") or {}
    state.thinking_tokens = int(details.get("thinking_tokens") or state.thinking_tokens)
    _update_input_tokens(state, usage)


def _block_start(state: StreamState, index: int, block: Mapping[str, Any]) -> list[ChatChunk]:
    if block["type"] == "text":
        return _text_chunk(str(block.get("text", "")))
    if block["type"] == "thinking":
        thinking = str(block.get("thinking") or "")
        state.thinking[index] = {"type": "thinking", "thinking": thinking,
                                 "signature": str(block.get("signature") or "")}
        return [ChatChunk(reasoning=thinking)] if thinking else []
    if block["type"] == "redacted_thinking":
        state.thinking[index] = {"type": "redacted_thinking", "data": block.get("data")}
        return []
    if block["type"] != "tool_use":
        return []  # server tools, ...: not part of an OpenAI answer
    # NOTE: with thinking on, Claude wants this turn's signed thinking blocks back before its tool_use
    # blocks on the next request; they ride, opaque, on the first tool call.
    extra = {"anthropic": {"thinking": [state.thinking[i] for i in sorted(state.thinking)]}} \
        if state.thinking and not state.tools else None
    state.tools[index] = len(state.tools)
    return [ChatChunk(tool_calls=(ToolCallDelta(state.tools[index], id=block["id"], name=block["name"],
                                                extra=extra),))]


def _block_delta(state: StreamState, index: int, delta: Mapping[str, Any]) -> list[ChatChunk]:
    if delta["type"] == "text_delta":
        return _text_chunk(str(delta["text"]))
    if delta["type"] == "thinking_delta":
        if index in state.thinking:
            state.thinking[index]["thinking"] += str(delta["thinking"])
        return [ChatChunk(reasoning=str(delta["thinking"]))] if delta["thinking"] else []
    if delta["type"] == "signature_delta" and index in state.thinking:
        state.thinking[index]["signature"] = str(delta["signature"])
        return []
    if delta["type"] != "input_json_delta" or not delta["partial_json"]:
        return []
    fragment = str(delta["partial_json"])
    if index in state.tools:
        state.sent_args.add(index)
        return [ChatChunk(tool_calls=(ToolCallDelta(state.tools[index], arguments=fragment),))]
    return []


def _block_stop(state: StreamState, index: int) -> list[ChatChunk]:
    """A tool called without arguments streams no JSON at all; OpenAI clients expect "{}"."""
    if index in state.sent_args:
        return []
    if index in state.tools:
        return [ChatChunk(tool_calls=(ToolCallDelta(state.tools[index], arguments="{}"),))]
    return []


def _text_chunk(text: str) -> list[ChatChunk]:
    return [ChatChunk(text=text)] if text else []
