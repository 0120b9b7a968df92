"""OpenAI's Responses API (`POST /v1/responses`, streamed) as an engine: for OpenAI models that are
offered only there (OpenAI answers them on Chat Completions with "only supported in v1/responses").

Followed: the Responses API reference as the `openai` SDK 3.x types spell it (request fields; stream
events `response.output_text.delta`, `response.reasoning_summary_text.delta`,
`response.output_item.added` (function_call), `response.function_call_arguments.delta`,
`response.completed` / `response.incomplete` / `response.failed`, `error`; usage with
`input_tokens_details.cached_tokens` and `output_tokens_details.reasoning_tokens`).

Translation from our Chat Completions body: system/developer/user/assistant messages -> message input
items (text -> `input_text`, images -> `input_image`); assistant `tool_calls` -> `function_call` items;
`tool` messages -> `function_call_output` items; function tools -> flat Responses tools; tool_choice;
`max_completion_tokens`/`max_tokens` -> `max_output_tokens`; `reasoning_effort` -> `reasoning.effort`;
`response_format` -> `text.format`. Responses has no `stop`, `seed`, `n` > 1, logprobs, logit_bias or
penalties: refused (400) rather than dropped. Nothing is stored at OpenAI (`store: false`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from serving.engine import ChatChunk, ToolCallDelta, Usage
from serving.errors import ContentFiltered, EngineFailed, InvalidRequest, StellwerkError
from serving.remote.base import ProviderError, RemoteChatEngine
from serving.remote.openai_chat import provider_error
from serving.remote.sse import iter_sse

__all__ = ["OpenAIResponsesEngine", "to_responses_request"]

_IGNORED = frozenset({"model", "messages", "stream", "stream_options", "metadata", "store", "service_tier",
                      "safety_identifier", "prompt_cache_key", "cache_control"})
_NEUTRAL: Mapping[str, object] = {"n": 1, "logprobs": False, "top_logprobs": 0, "logit_bias": {},
                                  "presence_penalty": 0, "frequency_penalty": 0, "modalities": ["text"]}
_COPIED = ("temperature", "top_p", "parallel_tool_calls", "user")


def _refuse(name: str) -> InvalidRequest:
    return InvalidRequest(f"OpenAI's Responses API has no '{name}'; remove it or choose another model",
                          param=name)


def to_responses_request(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The Responses request for our Chat Completions `body`."""
    handled = {*_IGNORED, *_COPIED, "tools", "tool_choice", "max_tokens", "max_completion_tokens",
               "reasoning_effort", "response_format"}
    for name, value in body.items():
        if value is None or name in handled:
            continue
        if name not in _NEUTRAL or value != _NEUTRAL[name]:
            raise _refuse(name)
    out: dict[str, Any] = {"model": model, "input": _input(body.get("messages") or []), "stream": True,
                           "store": False}
    out.update({k: body[k] for k in _COPIED if body.get(k) is not None})
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None:
        out["max_output_tokens"] = int(limit)
    if body.get("tools"):
        out["tools"] = [_tool(t) for t in body["tools"]]
    if body.get("tool_choice") is not None:
        out["tool_choice"] = _tool_choice(body["tool_choice"])
    if body.get("reasoning_effort") is not None:
        out["reasoning"] = {"effort": body["reasoning_effort"], "summary": "auto"}
    if body.get("response_format") is not None:
        out["text"] = {"format": _format(body["response_format"])}
    return out


def _input(messages: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            items.append({"type": "function_call_output", "call_id": message.get("tool_call_id"),
                          "output": _text(message.get("content"))})
            continue
        if role not in ("system", "developer", "user", "assistant"):
            raise InvalidRequest(f"unknown message role {role!r}", param="messages")
        content = message.get("content")
        if content:
            parts = _parts(content, role)
            items.append({"role": role, "content": parts})
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            items.append({"type": "function_call", "call_id": call.get("id"), "name": function.get("name"),
                          "arguments": function.get("arguments") or "{}"})
    return items


def _parts(content: Any, role: str) -> Any:
    if isinstance(content, str):
        return content
    if role == "assistant":
        return _text(content)
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "input_text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            item: dict[str, Any] = {"type": "input_image", "image_url": url}
            if isinstance(image, Mapping) and image.get("detail"):
                item["detail"] = image["detail"]
            parts.append(item)
        else:
            raise InvalidRequest(f"content parts of type {kind!r} are not supported here", param="messages")
    return parts


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text") or p.get("refusal") or "") for p in content)
    return "" if content is None else str(content)


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    if tool.get("type") != "function":
        raise InvalidRequest(f"tools of type {tool.get('type')!r} are not supported", param="tools")
    function = tool.get("function") or {}
    out: dict[str, Any] = {"type": "function", "name": function.get("name"),
                           "parameters": function.get("parameters") or {"type": "object", "properties": {}}}
    for key in ("description", "strict"):
        if function.get(key) is not None:
            out[key] = function[key]
    return out


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        return {"type": "function", "name": (choice.get("function") or {}).get("name")}
    raise InvalidRequest(f"unknown tool_choice {choice!r}", param="tool_choice")


def _format(response_format: Any) -> dict[str, Any]:
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind in ("text", "json_object"):
        return {"type": kind}
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        out = {"type": "json_schema", "name": spec.get("name") or "answer",
               "schema": spec.get("schema") or {}}
        if spec.get("strict") is not None:
            out["strict"] = spec["strict"]
        return out
    raise InvalidRequest(f"unsupported response_format {response_format!r}", param="response_format")


@dataclass
class _Stream:
    calls: dict[str, int] = field(default_factory=dict)  # item id -> our tool-call index
    sent_args: set[str] = field(default_factory=set)


class OpenAIResponsesEngine(RemoteChatEngine):
    """An OpenAI model behind the Responses API, streamed."""

    type: ClassVar[str] = "openai-responses"

    def build_request(self, body: Mapping[str, Any], api_key: str) -> httpx.Request:
        payload = to_responses_request(body, self.endpoint.model)
        headers = {"Authorization": f"Bearer {api_key}", "Accept": "text/event-stream"}
        return httpx.Request("POST", self.url("/responses"), json=payload, headers=headers)

    async def parse_stream(self, response: httpx.Response) -> AsyncIterator[ChatChunk]:
        state = _Stream()
        async for event in iter_sse(response):
            data = json.loads(event.data)
            kind = data["type"]
            if kind in ("response.completed", "response.incomplete"):
                yield self._finish(state, data["response"])
                return
            if kind in ("error", "response.failed"):
                raise self._failure(data)
            chunk = _chunk(state, kind, data)
            if chunk is not None:
                yield chunk
        raise EngineFailed(f"{self._who()} ended the stream before response.completed")

    def _finish(self, state: _Stream, final: Mapping[str, Any]) -> ChatChunk:
        reason = "tool_calls" if state.calls else "stop"
        if final.get("status") == "incomplete":
            why = (final.get("incomplete_details") or {}).get("reason")
            if why == "content_filter":
                raise ContentFiltered(f"{self._who()} stopped the answer for content")
            reason = "length"
        return ChatChunk(finish_reason=reason, usage=_usage(final.get("usage")))

    def _failure(self, data: Mapping[str, Any]) -> StellwerkError:
        error = data.get("error") or (data.get("response") or {}).get("error") or data
        return self._error(500 if data["type"] == "error" else 502, json.dumps({"error": error}).encode(),
                           httpx.Headers())

    def error_from(self, status: int, body: bytes) -> ProviderError:
        return provider_error(status, body)


def _chunk(state: _Stream, kind: str, data: Mapping[str, Any]) -> ChatChunk | None:
    if kind == "response.output_text.delta":
        return ChatChunk(text=str(data["delta"])) if data["delta"] else None
    if kind == "response.reasoning_summary_text.delta":
        return ChatChunk(reasoning=str(data["delta"])) if data["delta"] else None
    if kind == "response.output_item.added" and data["item"].get("type") == "function_call":
        item = data["item"]
        state.calls[str(item["id"])] = len(state.calls)
        return ChatChunk(tool_calls=(ToolCallDelta(state.calls[str(item["id"])], id=str(item["call_id"]),
                                                   name=str(item["name"])),))
    if kind == "response.function_call_arguments.delta" and str(data["item_id"]) in state.calls:
        state.sent_args.add(str(data["item_id"]))
        return ChatChunk(tool_calls=(ToolCallDelta(state.calls[str(data["item_id"])],
                                                   arguments=str(data["delta"])),))
    return None  # content parts, done events and event types added after this adapter was written


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, Mapping):
        return None
    cached = (raw.get("input_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (raw.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
    return Usage(prompt_tokens=int(raw.get("input_tokens") or 0),
                 completion_tokens=int(raw.get("output_tokens") or 0),
                 cached_tokens=int(cached), reasoning_tokens=int(reasoning))
