"""Adapter for Anthropic's Messages API (`POST /v1/messages`, header `anthropic-version: 2026-10-21`).

Followed: the Messages API reference (platform.claude.com/docs/en/api/messages), its streaming guide
(…/build-with-claude/streaming: `message_start`, `content_block_start|delta|stop` with `text_delta` and
`input_json_delta`, `message_delta` with `stop_reason` and cumulative `usage`, `message_stop`, `ping`,
`error`), the tool-use guide, the stop-reasons guide and the errors page (`{"type": "error", "error":
{"type", "message"}}`; 529 `overloaded_error`), as the `anthropic` Python SDK 2.x types spell them.
API version 2026-10-21 (the default of the `anthropic` SDK 2.x, and the first new version since
2023-06-01) refuses temperature, top_p and top_k with a 400 even at their default values, and the
current models (Sonnet 5 and later) refuse non-default sampling on any version. So a request that sets
them is refused here with a 400 naming the parameter, rather than sent to fail upstream (vLLM's "off"
values, top_k <= 0, are dropped as before).

Thinking: our `thinking` request field (Anthropic's own shape: {"type": "enabled", "budget_tokens": N}
with N >= 1024 and below max_tokens, {"type": "adaptive"} or {"type": "disabled"}) is passed through;
OpenAI's `reasoning_effort` becomes `output_config.effort` (minimal -> low; none -> thinking disabled).
Thinking blocks come back as reasoning text (`ChatChunk.reasoning`), not as answer text, and
`output_tokens_details.thinking_tokens` as reasoning tokens. A turn's signed thinking blocks ride on its
first tool call (`extra_content.anthropic.thinking`) and lead the assistant turn when it comes back,
as Claude requires for tool use with thinking on.

How an OpenAI chat request is translated:
- system/developer messages → top-level `system` (joined in order; their position in the chat is lost).
- consecutive same-role turns are merged into one turn, as Anthropic wants user/assistant alternation;
  assistant `tool_calls` → `tool_use` blocks (`arguments` parsed into `input`); `tool` messages → user
  `tool_result` blocks (`tool_use_id`), which therefore lead the next user turn as Anthropic requires.
- images: `data:` URLs → base64 sources, http(s) URLs → url sources (only for vision models);
  `detail` has no Anthropic equivalent and is ignored. Message `name` fields are ignored.
- tools → `{name, description, input_schema, strict}`; tool_choice auto/none/required/named → auto/none/
  any/tool; `parallel_tool_calls: false` → `disable_parallel_tool_use`.
- `max_tokens` is required by Anthropic: `max_completion_tokens`, else `max_tokens`, else
  `DEFAULT_MAX_TOKENS` (4096). stop → `stop_sequences`; sampling parameters: see below; `user` →
  `metadata.user_id`.
- response_format json_object / json_schema → structured outputs, `output_config.format`
  (`{"type": "json_schema", "schema": ...}`; `{"type": "object"}` for json_object): the answer text is
  the JSON. (Before API version 2026-10-21 this was a forced tool; the current models refuse forced
  tool use.)
- refused with `InvalidRequest` (they change the answer and Anthropic has no equivalent): seed, n > 1,
  logprobs, logit_bias, non-zero presence/frequency penalties, non-neutral vLLM extras (min_tokens,
  ignore_eos, repetition_penalty, ...), and any other field this adapter does not know.

Prompt caching: `cache_control` breakpoints on chat content parts (text, image), on system message
parts, on tools, and the top-level `cache_control` (automatic caching) are sent on as Anthropic has
them; `cache_read_input_tokens` / `cache_creation_input_tokens` come back as cached / cache-write tokens.

Usage: prompt_tokens = input_tokens + cache_creation_input_tokens + cache_read_input_tokens (Anthropic
counts cached input apart; OpenAI's prompt_tokens includes it), completion_tokens = output_tokens from
`message_delta`. The finish chunk and usage are sent at `message_stop`, so a stream cut short never
reports a finish.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from serving.engine import ChatChunk, ToolCallDelta, Usage
from serving.errors import EngineFailed, InvalidRequest, StellwerkError
from serving.remote.base import ProviderError, RemoteChatEngine
from serving.remote.sse import iter_sse

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicChatEngine", "check_thinking", "to_anthropic"]

logger = logging.getLogger(__name__)

ANTHROPIC_VERSION = "2026-10-21"
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; every Claude model can produce this many
_PROVIDER = "anthropic"

_STOP_REASONS: Mapping[str, str] = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
    "max_tokens": "length", "model_context_window_exceeded": "length",
    "tool_use": "tool_calls", "refusal": "content_filter",
}
# The HTTP status Anthropic uses for each error type; an `error` event mid-stream is mapped through it.
_ERROR_STATUS: Mapping[str, int] = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DATA_URL = re.compile(r"data:(?P<type>[\w.+-]+/[\w.+-]+);base64,(?P<data>.+)", re.DOTALL)

# Translated by `to_anthropic`, or ignorable because they do not change the answer.
_HANDLED = frozenset({
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "stop",
    "tools", "tool_choice", "parallel_tool_calls", "response_format", "user", "n",
    "stream", "stream_options", "store", "metadata", "service_tier", "thinking", "reasoning_effort",
    "cache_control",
})
_SAMPLING_REMOVED = ("temperature", "top_p")  # and top_k above 0: see _sampling
_EFFORTS: Mapping[str, str] = {"minimal": "low", "low": "low", "medium": "medium", "high": "high",
                               "xhigh": "xhigh", "max": "max"}
MIN_THINKING_BUDGET = 1024
# Fields Anthropic cannot honour, accepted only at their no-op value.
_NEUTRAL: Mapping[str, object] = {
    "presence_penalty": 0, "frequency_penalty": 0, "logprobs": False, "top_logprobs": 0,
    "logit_bias": {}, "repetition_penalty": 1, "min_tokens": 0, "ignore_eos": False, "min_p": 0,
    "echo": False, "modalities": ["text"],
}


def _refuse(param: str, why: str = "") -> InvalidRequest:
    return InvalidRequest(f"{_PROVIDER} does not support '{param}'{why}", param=param)


# --- request translation ----------------------------------------------------------------------------


def to_anthropic(body: Mapping[str, Any], model: str, *, vision: bool) -> dict[str, Any]:
    """The Messages API body for an OpenAI chat `body`."""
    _check_unsupported(body)
    system, messages = _messages(body.get("messages") or [], vision=vision)
    out: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": _max_tokens(body),
                           "stream": True}
    if system:
        out["system"] = system
    if body.get("cache_control") is not None:
        out["cache_control"] = body["cache_control"]
    out.update(_sampling(body))
    out.update(_thinking(body, out["max_tokens"]))
    if body.get("user"):
        out["metadata"] = {"user_id": str(body["user"])}
    output_format = _output_format(body.get("response_format"))
    if output_format is not None:
        out.setdefault("output_config", {})["format"] = output_format
    out.update(_tools(body))
    return out


def _check_unsupported(body: Mapping[str, Any]) -> None:
    if body.get("seed") is not None:
        raise _refuse("seed", " (Anthropic has no seeded sampling)")
    if body.get("n", 1) != 1:
        raise _refuse("n", "; only n=1")
    for key, value in body.items():
        if key in _HANDLED or value is None:
            continue
        if key not in _NEUTRAL or value != _NEUTRAL[key]:
            raise _refuse(key)


def _max_tokens(body: Mapping[str, Any]) -> int:
    value = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    return int(value)


def _sampling(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sent = [name for name in _SAMPLING_REMOVED if body.get(name) is not None]
    if body.get("top_k") is not None and int(body["top_k"]) > 0:  # vLLM: -1 or 0 mean "off"
        sent.append("top_k")
    if sent:
        raise InvalidRequest(f"{_PROVIDER} API version {ANTHROPIC_VERSION} has no '{sent[0]}' (temperature, "
                             "top_p and top_k are refused even at their defaults); remove it, or choose "
                             "a model that takes it", param=sent[0])
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    return out


def _thinking(body: Mapping[str, Any], max_tokens: int) -> dict[str, Any]:
    """`thinking` (Anthropic's shape, checked as the API checks it) and `reasoning_effort` ->
    `output_config.effort`; `reasoning_effort: none` turns thinking off."""
    out: dict[str, Any] = {}
    effort = body.get("reasoning_effort")
    if effort == "none":
        out["thinking"] = {"type": "disabled"}
    elif effort is not None:
        if effort not in _EFFORTS:
            raise InvalidRequest(f"reasoning_effort must be one of none, {', '.join(_EFFORTS)}",
                                 param="reasoning_effort")
        out["output_config"] = {"effort": _EFFORTS[str(effort)]}
    thinking = body.get("thinking")
    if thinking is not None:
        out["thinking"] = check_thinking(thinking, max_tokens)
    return out


def check_thinking(thinking: Any, max_tokens: int) -> dict[str, Any]:
    """A `thinking` object as Anthropic's API accepts it, or `InvalidRequest` saying what is wrong."""
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    if kind in ("adaptive", "disabled", "between_tools"):
        return dict(thinking)
    if kind != "enabled":
        raise InvalidRequest("thinking.type must be enabled, adaptive, disabled or between_tools",
                             param="thinking")
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < MIN_THINKING_BUDGET or budget >= max_tokens:
        raise InvalidRequest(f"thinking.budget_tokens must be an integer >= {MIN_THINKING_BUDGET} and below "
                             f"max_tokens ({max_tokens})", param="thinking.budget_tokens")
    return dict(thinking)


def _messages(messages: list[Mapping[str, Any]],
              *, vision: bool) -> tuple[str | list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[str] = []
    system_blocks: list[dict[str, Any]] = []  # kept as blocks once one carries a cache breakpoint
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text_only(message.get("content"), role))
            system_blocks.extend(_system_blocks(message.get("content"), system[-1]))
            continue
        if role == "user":
            turn = ("user", _user_blocks(message.get("content"), vision=vision))
        elif role == "assistant":
            turn = ("assistant", _assistant_blocks(message))
        elif role == "tool":
            turn = ("user", [_tool_result(message)])
        else:
            raise InvalidRequest(f"unknown message role {role!r}", param="messages")
        _append_turn(turns, *turn)
    if any("cache_control" in b for b in system_blocks):
        return system_blocks, turns
    return "\n\n".join(s for s in system if s), turns


def _system_blocks(content: Any, text: str) -> list[dict[str, Any]]:
    """A system message as Anthropic text blocks, keeping the parts' prompt-cache breakpoints."""
    if not isinstance(content, list):
        return _text_block(text)
    return [{**_text_block(str(p.get("text") or ""))[0], **_cache(p)} for p in content if p.get("text")]


def _cache(part: Mapping[str, Any]) -> dict[str, Any]:
    """The part's `cache_control` breakpoint (Anthropic's shape, carried on our chat parts)."""
    return {"cache_control": part["cache_control"]} if part.get("cache_control") else {}


def _append_turn(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Add a turn, merging it into the previous one of the same role (Anthropic wants alternation)."""
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _parts(content: Any) -> list[Mapping[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return content
    raise InvalidRequest("message content must be a string or a list of parts", param="messages")


def _text_only(content: Any, role: str) -> str:
    texts: list[str] = []
    for part in _parts(content):
        if part.get("type") not in ("text", "refusal"):
            raise InvalidRequest(f"{_PROVIDER} takes only text in {role} messages", param="messages")
        texts.append(str(part.get("text") or part.get("refusal") or ""))
    return "".join(texts)


def _text_block(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}] if text else []  # Anthropic refuses empty text blocks


def _user_blocks(content: Any, *, vision: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in _parts(content):
        kind = part.get("type")
        if kind == "text":
            blocks.extend({**b, **_cache(part)} for b in _text_block(str(part.get("text", ""))))
        elif kind == "image_url":
            blocks.append({**_image(part.get("image_url"), vision=vision), **_cache(part)})
        else:
            raise InvalidRequest(f"{_PROVIDER} does not support {kind!r} content parts", param="messages")
    return blocks


def _image(image_url: Any, *, vision: bool) -> dict[str, Any]:
    if not vision:
        raise InvalidRequest("this model does not accept images", param="messages")
    url = image_url.get("url") if isinstance(image_url, Mapping) else image_url
    if not isinstance(url, str):
        raise InvalidRequest("image_url needs a url", param="messages")
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    match = _DATA_URL.fullmatch(url)
    if match is None:
        raise InvalidRequest("images must be http(s) URLs or base64 data: URLs", param="messages")
    media_type = match["type"].lower()
    if media_type not in _IMAGE_TYPES:
        raise InvalidRequest(f"{_PROVIDER} does not support images of type {media_type}", param="messages")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": match["data"]}}


def _assistant_blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks = _signed_thinking(message.get("tool_calls") or [])
    blocks += _text_block(_text_only(message.get("content"), "assistant"))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                       "input": _arguments(function.get("arguments"))})
    return blocks


def _signed_thinking(calls: list[Any]) -> list[dict[str, Any]]:
    """The signed thinking blocks a tool call brought back (`extra_content.anthropic.thinking`); they
    lead the assistant turn, as Claude requires when thinking is on."""
    for call in calls:
        extra = call.get("extra_content") if isinstance(call, Mapping) else None
        anthropic = extra.get("anthropic") if isinstance(extra, Mapping) else None
        blocks = anthropic.get("thinking") if isinstance(anthropic, Mapping) else None
        if isinstance(blocks, list) and all(isinstance(b, Mapping) for b in blocks):
            return [dict(b) for b in blocks]
    return []


def _arguments(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, Mapping):
        return dict(arguments)
    try:
        parsed = json.loads(arguments) if arguments else {}
    except (TypeError, ValueError):
        raise InvalidRequest("tool call arguments must be a JSON object", param="messages") from None
    if not isinstance(parsed, dict):
        raise InvalidRequest("tool call arguments must be a JSON object", param="messages")
    return parsed


def _tool_result(message: Mapping[str, Any]) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    if not call_id:
        raise InvalidRequest("tool messages need a tool_call_id", param="messages")
    return {"type": "tool_result", "tool_use_id": call_id,
            "content": _text_only(message.get("content"), "tool")}


def _tools(body: Mapping[str, Any]) -> dict[str, Any]:
    tools = [_tool(t) for t in body.get("tools") or []]
    choice = body.get("tool_choice")
    if not tools:
        if choice not in (None, "none", "auto"):
            raise InvalidRequest("tool_choice needs tools", param="tool_choice")
        return {}
    out: dict[str, Any] = {"tools": tools}
    anthropic_choice = _tool_choice(choice)
    if body.get("parallel_tool_calls") is False and anthropic_choice["type"] != "none":
        anthropic_choice["disable_parallel_tool_use"] = True
    if choice is not None or "disable_parallel_tool_use" in anthropic_choice:
        out["tool_choice"] = anthropic_choice
    return out


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    if tool.get("type") != "function":
        raise _refuse("tools", f" of type {tool.get('type')!r}")
    function = tool.get("function") or {}
    out: dict[str, Any] = {"name": function.get("name"),
                           "input_schema": function.get("parameters") or {"type": "object", "properties": {}}}
    if function.get("description"):
        out["description"] = function["description"]
    if function.get("strict") is not None:
        out["strict"] = bool(function["strict"])
    out.update(_cache(tool))
    return out


def _tool_choice(choice: Any) -> dict[str, Any]:
    if choice in (None, "auto"):
        return {"type": "auto"}
    if choice == "none":
        return {"type": "none"}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        return {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    raise InvalidRequest(f"unknown tool_choice {choice!r}", param="tool_choice")


def _output_format(response_format: Any) -> dict[str, Any] | None:
    """response_format -> `output_config.format` (structured outputs): the answer text is the JSON."""
    kind = response_format.get("type") if isinstance(response_format, Mapping) else response_format
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return {"type": "json_schema", "schema": {"type": "object"}}
    if kind != "json_schema":
        raise _refuse("response_format", f" of type {kind!r}")
    schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
    if not isinstance(schema, Mapping):
        raise _refuse("response_format", ": its schema must be a JSON object")
    return {"type": "json_schema", "schema": dict(schema)}


# --- response parsing -------------------------------------------------------------------------------


@dataclass
class _Stream:
    """What a stream has said so far: tool blocks by Anthropic block index, usage, the stop reason."""

    tools: dict[int, int] = field(default_factory=dict)  # block index -> our tool-call index
    sent_args: set[int] = field(default_factory=set)  # blocks whose arguments were sent
    input_tokens: dict[str, int] = field(default_factory=dict)  # uncached, cache writes, cache reads
    output_tokens: int = 0
    thinking_tokens: int = 0  # of output_tokens (usage.output_tokens_details.thinking_tokens)
    thinking: dict[int, dict[str, Any]] = field(default_factory=dict)  # signed thinking blocks by index
    stop_reason: str | None = None
    started: bool = False


class AnthropicChatEngine(RemoteChatEngine):
    """A Claude model behind Anthropic's Messages API, streamed; see the module docstring."""

    type: ClassVar[str] = "anthropic"

    def build_request(self, body: Mapping[str, Any], api_key: str) -> httpx.Request:
        payload = to_anthropic(body, self.endpoint.model, vision=self.entry.capabilities.vision)
        headers = {"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION,
                   "content-type": "application/json", "accept": "text/event-stream"}
        return httpx.Request("POST", self.url("/v1/messages"), headers=headers, json=payload)

    async def parse_stream(self, response: httpx.Response) -> AsyncIterator[ChatChunk]:
        state = _Stream()
        async for event in iter_sse(response):
            data = json.loads(event.data)
            kind = data["type"]
            if kind == "message_stop":
                yield self._finish(state)
                return
            if kind == "error":
                raise self._stream_error(data)
            for chunk in self._on_event(state, kind, data):
                yield chunk
        raise EngineFailed(f"{self._who()} ended the stream before message_stop")

    def _on_event(self, state: _Stream, kind: str, data: Mapping[str, Any]) -> list[ChatChunk]:
        if kind == "message_start":
            state.started = True
            _update_input_tokens(state, data["message"]["usage"])
            return []
        if not state.started and kind != "ping":
            raise ValueError(f"stream event {kind!r} before message_start")
        if kind == "content_block_start":
            return _block_start(state, int(data["index"]), data["content_block"])
        if kind == "content_block_delta":
            return _block_delta(state, int(data["index"]), data["delta"])
        if kind == "content_block_stop":
            return _block_stop(state, int(data["index"]))
        if kind == "message_delta":
            _message_delta(state, data)
        return []  # ping, and event types added after this adapter was written

    def _finish(self, state: _Stream) -> ChatChunk:
        if state.stop_reason is None:
            raise ValueError("message_stop without a stop_reason")
        finish = _STOP_REASONS.get(state.stop_reason)
        if finish is None:
            logger.warning("%s: unknown stop_reason %r, reported as 'stop'", self._who(), state.stop_reason)
            finish = "stop"
        tokens = state.input_tokens
        usage = Usage(sum(tokens.values()), state.output_tokens,
                      cached_tokens=tokens.get("cache_read_input_tokens", 0),
                      cache_write_tokens=tokens.get("cache_creation_input_tokens", 0),
                      reasoning_tokens=state.thinking_tokens)
        return ChatChunk(finish_reason=finish, usage=usage)

    def _stream_error(self, data: Mapping[str, Any]) -> StellwerkError:
        kind = str((data.get("error") or {}).get("type", ""))
        status = _ERROR_STATUS.get(kind, 500)
        return self._error(status, json.dumps(data).encode(), httpx.Headers())

    def error_from(self, status: int, body: bytes) -> ProviderError:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            return ProviderError(str(error.get("message", "")), str(error.get("type") or "") or None)
        text = body.decode("utf-8", "replace").strip()
        return ProviderError(text[:200] or f"HTTP {status}", None)


def _update_input_tokens(state: _Stream, usage: Mapping[str, Any]) -> None:
    """Usage counts are cumulative: a later value replaces an earlier one; absent ones stay."""
    for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        if usage.get(key) is not None:
            state.input_tokens[key] = int(usage[key])


def _message_delta(state: _Stream, data: Mapping[str, Any]) -> None:
    state.stop_reason = data["delta"].get("stop_reason") or state.stop_reason
    usage = data.get("usage") or {}
    state.output_tokens = int(usage["output_tokens"])
    details = usage.get("output_tokens_details") or {}
    state.thinking_tokens = int(details.get("thinking_tokens") or state.thinking_tokens)
    _update_input_tokens(state, usage)


def _block_start(state: _Stream, index: int, block: Mapping[str, Any]) -> list[ChatChunk]:
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


def _block_delta(state: _Stream, index: int, delta: Mapping[str, Any]) -> list[ChatChunk]:
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


def _block_stop(state: _Stream, index: int) -> list[ChatChunk]:
    """A tool called without arguments streams no JSON at all; OpenAI clients expect "{}"."""
    if index in state.sent_args:
        return []
    if index in state.tools:
        return [ChatChunk(tool_calls=(ToolCallDelta(state.tools[index], arguments="{}"),))]
    return []


def _text_chunk(text: str) -> list[ChatChunk]:
    return [ChatChunk(text=text)] if text else []
