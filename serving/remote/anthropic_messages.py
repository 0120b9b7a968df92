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

How an OpenAI chat request is translated (the rules all adapters share, such as merging same-role
turns and refusing fields we cannot honour, are in `serving.remote.chat_rules`):
- system/developer messages → top-level `system` (joined in order; their position in the chat is lost).
- assistant `tool_calls` → `tool_use` blocks (`arguments` parsed into `input`); `tool` messages → user
  `tool_result` blocks (`tool_use_id`), which therefore lead the next user turn as Anthropic requires.
- images: `data:` URLs → base64 sources, http(s) URLs → url sources (only for vision models);
  `detail` has no Anthropic equivalent and is ignored. Message `name` fields are ignored.
- tools → `{name, description, input_schema, strict}`; tool_choice auto/none/required/named → auto/none/
  any/tool; `parallel_tool_calls: false` → `disable_parallel_tool_use`.
- `max_tokens` is required by Anthropic: `max_completion_tokens`, else `max_tokens`, else
  `DEFAULT_MAX_TOKENS` (4096). stop → `stop_sequences`; sampling parameters: see above; `user` →
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
reports a finish. The stream's events are read by `serving.remote.anthropic_stream`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

import httpx

from serving.engine import ChatChunk
from serving.errors import EngineFailed, InvalidRequest, StellwerkError
from serving.remote.anthropic_stream import StreamState
from serving.remote.base import ProviderError, RemoteChatEngine
from serving.remote.chat_rules import (
    DataUrl,
    content_parts,
    image_url,
    merge_turn,
    output_limit,
    refuse_unknown_fields,
    response_schema,
    stop_sequences,
    text_only,
    tool_arguments,
    tool_choice,
    tool_functions,
    top_k,
)
from serving.remote.sse import iter_sse

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicChatEngine", "check_thinking", "to_anthropic"]

logger = logging.getLogger(__name__)

ANTHROPIC_VERSION = "2026-10-21"
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; every Claude model can produce this many
_PROVIDER = "anthropic"

# The HTTP status Anthropic uses for each error type; an `error` event mid-stream is mapped through it.
_ERROR_STATUS: Mapping[str, int] = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

# Translated by `to_anthropic`, or ignorable because they do not change the answer; the rest is refused
# unless at its no-op value (`chat_rules.NEUTRAL`).
_HANDLED = frozenset({
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "stop",
    "tools", "tool_choice", "parallel_tool_calls", "response_format", "user",
    "stream", "stream_options", "store", "metadata", "service_tier", "thinking", "reasoning_effort",
    "cache_control",
})
_SAMPLING_REMOVED = ("temperature", "top_p")  # and top_k above 0: see _sampling
_EFFORTS: Mapping[str, str] = {"minimal": "low", "low": "low", "medium": "medium", "high": "high",
                               "xhigh": "xhigh", "max": "max"}
_TOOL_CHOICES: Mapping[str, str] = {"auto": "auto", "none": "none", "required": "any", "function": "tool"}
MIN_THINKING_BUDGET = 1024


# --- request translation ----------------------------------------------------------------------------


def to_anthropic(body: Mapping[str, Any], model: str, *, vision: bool) -> dict[str, Any]:
    """The Messages API body for an OpenAI chat `body`."""
    refuse_unknown_fields(body, _PROVIDER, _HANDLED)
    system, messages = _messages(body.get("messages") or [], vision=vision)
    out: dict[str, Any] = {"model": model, "messages": messages,
                           "max_tokens": output_limit(body) or DEFAULT_MAX_TOKENS, "stream": True}
    if system:
        out["system"] = system
    if body.get("cache_control") is not None:
        out["cache_control"] = body["cache_control"]
    out.update(_sampling(body))
    out.update(_thinking(body, out["max_tokens"]))
    if body.get("user"):
        out["metadata"] = {"user_id": str(body["user"])}
    schema = response_schema(body.get("response_format"), _PROVIDER)
    if schema is not None:  # structured outputs: the answer text is the JSON
        out.setdefault("output_config", {})["format"] = {"type": "json_schema", "schema": schema}
    out.update(_tools(body))
    return out


def _sampling(body: Mapping[str, Any]) -> dict[str, Any]:
    sent = [name for name in _SAMPLING_REMOVED if body.get(name) is not None]
    if top_k(body) is not None:
        sent.append("top_k")
    if sent:
        raise InvalidRequest(f"{_PROVIDER} API version {ANTHROPIC_VERSION} has no '{sent[0]}' (temperature, "
                             "top_p and top_k are refused even at their defaults); remove it, or choose "
                             "a model that takes it", param=sent[0])
    stop = stop_sequences(body)
    return {"stop_sequences": stop} if stop else {}


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
    for i, message in enumerate(messages):
        role, where = message.get("role"), f"messages[{i}]"
        if role in ("system", "developer"):
            system.append("".join(text_only(message.get("content"), where)))
            system_blocks.extend(_system_blocks(message.get("content"), system[-1]))
        elif role == "user":
            merge_turn(turns, "user", "content", _user_blocks(message.get("content"), vision, where))
        elif role == "assistant":
            merge_turn(turns, "assistant", "content", _assistant_blocks(message, where))
        elif role == "tool":
            merge_turn(turns, "user", "content", [_tool_result(message, where)])
        else:
            raise InvalidRequest(f"unknown message role {role!r}", param=f"{where}.role")
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


def _text_block(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}] if text else []  # Anthropic refuses empty text blocks


def _user_blocks(content: Any, vision: bool, where: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in content_parts(content, where):
        kind = part.get("type")
        if kind == "text":
            blocks.extend({**b, **_cache(part)} for b in _text_block(str(part.get("text", ""))))
        elif kind == "image_url":
            image = image_url(part.get("image_url"), vision=vision, where=where)
            blocks.append({**_image(image, where), **_cache(part)})
        else:
            raise InvalidRequest(f"{_PROVIDER} does not support {kind!r} content parts", param=where)
    return blocks


def _image(image: str | DataUrl, where: str) -> dict[str, Any]:
    if isinstance(image, str):
        return {"type": "image", "source": {"type": "url", "url": image}}
    if image.media_type not in _IMAGE_TYPES:
        raise InvalidRequest(f"{_PROVIDER} does not support images of type {image.media_type}", param=where)
    return {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.data}}


def _assistant_blocks(message: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    blocks = _signed_thinking(message.get("tool_calls") or [])
    blocks += _text_block("".join(text_only(message.get("content"), where)))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                       "input": tool_arguments(function.get("arguments"), where)})
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


def _tool_result(message: Mapping[str, Any], where: str) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    if not call_id:
        raise InvalidRequest("tool messages need a tool_call_id", param=f"{where}.tool_call_id")
    return {"type": "tool_result", "tool_use_id": call_id,
            "content": "".join(text_only(message.get("content"), where))}


def _tools(body: Mapping[str, Any]) -> dict[str, Any]:
    tools = [_tool(f) for f in tool_functions(body, _PROVIDER)]
    choice = tool_choice(body.get("tool_choice"), has_tools=bool(tools))
    if not tools:
        return {}
    out: dict[str, Any] = {"tools": tools}
    wire: dict[str, Any] = {"type": _TOOL_CHOICES[choice.mode] if choice else "auto"}
    if choice is not None and choice.name is not None:
        wire["name"] = choice.name
    if body.get("parallel_tool_calls") is False and wire["type"] != "none":
        wire["disable_parallel_tool_use"] = True
    if choice is not None or "disable_parallel_tool_use" in wire:
        out["tool_choice"] = wire
    return out


def _tool(function: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": function.get("name"),
                           "input_schema": function.get("parameters") or {"type": "object", "properties": {}}}
    if function.get("description"):
        out["description"] = function["description"]
    if function.get("strict") is not None:
        out["strict"] = bool(function["strict"])
    out.update(_cache(function))
    return out


# --- response parsing -------------------------------------------------------------------------------


class AnthropicChatEngine(RemoteChatEngine):
    """A Claude model behind Anthropic's Messages API, streamed; see the module docstring."""

    type: ClassVar[str] = "anthropic"

    def build_request(self, body: Mapping[str, Any], api_key: str) -> httpx.Request:
        payload = to_anthropic(body, self.endpoint.model, vision=self.entry.capabilities.vision)
        headers = {"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION,
                   "content-type": "application/json", "accept": "text/event-stream"}
        return httpx.Request("POST", self.url("/v1/messages"), headers=headers, json=payload)

    async def parse_stream(self, response: httpx.Response) -> AsyncIterator[ChatChunk]:
        state = StreamState()
        async for event in iter_sse(response):
            data = json.loads(event.data)
            kind = data["type"]
            if kind == "message_stop":
                finish, unknown = state.finish()
                if unknown is not None:
                    logger.warning("%s: unknown stop_reason %r, reported as 'stop'", self._who(), unknown)
                yield finish
                return
            if kind == "error":
                raise self._stream_error(data)
            for chunk in state.on_event(kind, data):
                yield chunk
        raise EngineFailed(f"{self._who()} ended the stream before message_stop")

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
