"""Anthropic Messages ⇄ OpenAI Chat Completions: requests in, answers and stream events out."""

from __future__ import annotations

import json
from typing import Any

from router.anthropic.schemas import AnthropicMessage, MessagesRequest
from serving.errors import InvalidRequest
from serving.remote.anthropic_messages import check_thinking

__all__ = ["STOP_REASONS", "to_openai_request"]

# OpenAI finish_reason -> Anthropic stop_reason
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "content_filter": "refusal"}


# Messages fields handled outside this translation (the `thinking` feature has its own module).
_HANDLED_ELSEWHERE = frozenset({"thinking"})


def to_openai_request(req: MessagesRequest) -> dict[str, Any]:
    """The OpenAI Chat Completions body that asks the same thing; 400 for a field it cannot honour."""
    _refuse_unknown(req)
    messages: list[dict[str, Any]] = []
    if req.system:
        messages.append({"role": "system", "content": _system_content(req.system)})
    for message in req.messages:
        messages.extend(_message(message))
    body: dict[str, Any] = {"model": req.model, "messages": messages, "max_tokens": req.max_tokens}
    for ours, theirs in (("stop", req.stop_sequences), ("temperature", req.temperature),
                         ("top_p", req.top_p), ("top_k", req.top_k)):
        if theirs is not None:
            body[ours] = theirs
    if req.tools:
        body["tools"] = [{"type": "function", "function": {
            "name": t.name, "description": t.description or "", "parameters": t.input_schema},
            **_cache(t.model_dump())} for t in req.tools]
    if req.cache_control is not None:  # automatic caching of the last cacheable block
        body["cache_control"] = req.cache_control
    if req.tool_choice is not None:
        body["tool_choice"] = _tool_choice(req.tool_choice.type, req.tool_choice.name)
    if req.thinking is not None:  # Stellwerk's chat extension, in Anthropic's own shape
        body["thinking"] = check_thinking(req.thinking, req.max_tokens)
    return body


def _refuse_unknown(req: MessagesRequest) -> None:
    """A parameter we would silently drop changes the answer: refuse it, naming it."""
    unknown = sorted(set(req.model_extra or {}) - _HANDLED_ELSEWHERE)
    if unknown:
        raise InvalidRequest(f"{', '.join(unknown)}: not supported by this router's Messages API",
                             param=unknown[0])


def _cache(block: dict[str, Any]) -> dict[str, Any]:
    """A block's prompt-cache breakpoint, carried on the OpenAI part (Stellwerk's extension; the Anthropic
    adapter sends it on, adapters of providers that cache automatically drop it)."""
    return {"cache_control": block["cache_control"]} if block.get("cache_control") else {}


def _system_content(system: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """The system prompt; text parts when a block carries a cache breakpoint, so it is kept."""
    if isinstance(system, list) and any(b.get("cache_control") for b in system):
        return [{"type": "text", "text": str(b.get("text", "")), **_cache(b)}
                for b in system if b.get("type") == "text"]
    return _system_text(system)


def _system_text(system: str | list[dict[str, Any]]) -> str:
    if isinstance(system, str):
        return system
    return "\n".join(str(b.get("text", "")) for b in system if b.get("type") == "text")


def _tool_choice(kind: str, name: str | None) -> Any:
    if kind == "tool":
        if not name:
            raise InvalidRequest("tool_choice of type 'tool' needs a name", param="tool_choice")
        return {"type": "function", "function": {"name": name}}
    return {"auto": "auto", "any": "required", "none": "none"}[kind]


def _message(message: AnthropicMessage) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"role": message.role, "content": message.content}]
    if message.role == "assistant":
        return [_assistant(message.content)]
    return _user(message.content)


def _assistant(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
    calls = [_tool_use(b) for b in blocks if b.get("type") == "tool_use"]
    out: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        out["tool_calls"] = calls
    return out


def _tool_use(block: dict[str, Any]) -> dict[str, Any]:
    if not block.get("id") or not block.get("name"):
        raise InvalidRequest("a tool_use block needs an id and a name", param="messages")
    arguments = json.dumps(block.get("input", {}))
    call: dict[str, Any] = {"id": block["id"], "type": "function",
                            "function": {"name": block["name"], "arguments": arguments}}
    if block.get("extra_content"):  # a provider signature (Gemini 3), sent back with the call
        call["extra_content"] = block["extra_content"]
    return call


def _user(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool results become OpenAI `tool` messages (first, as OpenAI requires); the rest one user turn."""
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "tool_result":
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id", ""),
                        "content": _result_text(block.get("content"))})
        elif kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", "")), **_cache(block)})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block.get("source"))},
                          **_cache(block)})
        else:
            raise InvalidRequest(f"content block type {kind!r} is not supported", param="messages")
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _result_text(content: Any) -> str:
    if isinstance(content, list):
        if not all(isinstance(b, dict) for b in content):
            raise InvalidRequest("tool_result content must be a string or a list of content blocks (objects)",
                                 param="messages")
        return "".join(str(b.get("text", "")) for b in content if b.get("type") == "text")
    return "" if content is None else str(content)


def _image_url(source: Any) -> str:
    if not isinstance(source, dict):
        raise InvalidRequest("an image block needs a 'source' object (base64 or url)", param="messages")
    if source.get("type") == "base64":
        return f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    if source.get("type") == "url":
        return str(source.get("url", ""))
    raise InvalidRequest("image source must be base64 or url", param="messages")
