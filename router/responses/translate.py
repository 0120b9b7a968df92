"""OpenAI Responses requests -> OpenAI Chat Completions requests (what every Stellwerk engine answers).

Input items: `message` items (or role/content pairs) become chat messages (`input_text` -> text parts,
`input_image` -> image_url parts, `output_text`/`refusal` of assistant turns -> text); consecutive
`function_call` items become one assistant turn's `tool_calls`; `function_call_output` items become
`tool` messages; `reasoning` items handed back from an earlier answer are dropped (no engine takes them
back in Chat Completions). `instructions` -> a system message, `max_output_tokens` ->
`max_completion_tokens`, `reasoning.effort` -> `reasoning_effort`, `text.format` -> `response_format`,
function tools (flat, as Responses writes them) -> chat tools. Hosted tools (web search, file search,
computer use, ...) and fields that would change the answer but have no counterpart are refused (400).
`previous_response_id` needs a response store (`router.store.responses`); without one it is refused
(400), with one the stored conversation comes before the new input (instructions are not carried over,
as OpenAI does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from router.responses.schemas import ResponsesRequest
from serving.errors import InvalidRequest

__all__ = ["to_chat_request"]

# Accepted without effect on the answer (`store`: nothing is stored, and the response says so).
_NEUTRAL_FIELDS = frozenset({"truncation", "service_tier", "prompt_cache_key", "safety_identifier",
                             "include", "stream_options", "background"})
_IMAGE_DETAIL = frozenset({"auto", "low", "high"})


def to_chat_request(req: ResponsesRequest, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The Chat Completions body that asks the same thing; `InvalidRequest` for what cannot be asked.
    `history` is the stored conversation `previous_response_id` names (None: no store)."""
    _refuse_unknown(req)
    if req.previous_response_id is not None and history is None:
        raise InvalidRequest("previous_response_id needs a response store, and this Stellwerk keeps none; "
                             "send the whole conversation in `input`", param="previous_response_id")
    messages: list[dict[str, Any]] = []
    if req.instructions:
        messages.append({"role": "system", "content": req.instructions})
    messages += (history or []) + _messages(req.input)
    body: dict[str, Any] = {"model": req.model, "messages": messages}
    for ours, value in (("max_completion_tokens", req.max_output_tokens), ("temperature", req.temperature),
                        ("top_p", req.top_p), ("parallel_tool_calls", req.parallel_tool_calls),
                        ("user", req.user)):
        if value is not None:
            body[ours] = value
    if req.tools:
        body["tools"] = [_tool(t) for t in req.tools]
    if req.tool_choice is not None:
        body["tool_choice"] = _tool_choice(req.tool_choice)
    if req.reasoning and req.reasoning.get("effort") is not None:
        body["reasoning_effort"] = req.reasoning["effort"]
    fmt = (req.text or {}).get("format")
    if fmt is not None:
        body["response_format"] = _response_format(fmt)
    return body


def _refuse_unknown(req: ResponsesRequest) -> None:
    for name, value in (req.model_extra or {}).items():
        if name not in _NEUTRAL_FIELDS or (name == "background" and value):
            raise InvalidRequest(f"'{name}' is not supported by this router's Responses API", param=name)


def _messages(items: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, f"input[{i}]"))
        elif kind == "function_call":
            _append_call(messages, item, f"input[{i}]")
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append({"role": "tool", "tool_call_id": _required(item, "call_id", f"input[{i}]"),
                             "content": output if isinstance(output, str) else json.dumps(output)})
        elif kind != "reasoning":
            raise InvalidRequest(f"input[{i}]: input items of type {kind!r} are not supported",
                                 param=f"input[{i}].type")
    return messages


def _required(item: Mapping[str, Any], key: str, where: str) -> Any:
    if not item.get(key):
        raise InvalidRequest(f"{where}: '{key}' is required", param=f"{where}.{key}")
    return item[key]


def _message(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise InvalidRequest(f"{where}: role must be user, assistant, system or developer",
                             param=f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}: content must be a string or a list of parts",
                             param=f"{where}.content")
    parts = [_part(p, f"{where}.content[{j}]") for j, p in enumerate(content)]
    if role != "user":  # only user turns take images; the others are text
        return {"role": role, "content": "".join(p.get("text", "") for p in parts)}
    return {"role": role, "content": parts}


def _part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, Mapping) else None
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": str(part.get("text", ""))}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal", ""))}
    if kind == "input_image" and part.get("image_url"):
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail") in _IMAGE_DETAIL:
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    raise InvalidRequest(f"{where}: content parts of type {kind!r} are not supported", param=where)


def _append_call(messages: list[dict[str, Any]], item: Mapping[str, Any], where: str) -> None:
    """Consecutive function calls are one assistant turn with several tool calls, as Chat has them."""
    call: dict[str, Any] = {"id": _required(item, "call_id", where), "type": "function",
                            "function": {"name": _required(item, "name", where),
                                         "arguments": item.get("arguments") or "{}"}}
    if item.get("extra_content"):  # a provider signature (Gemini 3), sent back with the call
        call["extra_content"] = item["extra_content"]
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant":
        last.setdefault("tool_calls", []).append(call)
        return
    messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    if tool.get("type") != "function":
        raise InvalidRequest(f"tools of type {tool.get('type')!r} are not supported (only function tools)",
                             param="tools")
    function: dict[str, Any] = {"name": tool.get("name"), "parameters": tool.get("parameters") or
                                {"type": "object", "properties": {}}}
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _tool_choice(choice: str | Mapping[str, Any]) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, Mapping) and choice.get("type") == "function" and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise InvalidRequest(f"unsupported tool_choice {choice!r}", param="tool_choice")


def _response_format(fmt: Mapping[str, Any]) -> dict[str, Any]:
    kind = fmt.get("type")
    if kind in ("text", "json_object"):
        return {"type": kind}
    if kind == "json_schema":
        spec: dict[str, Any] = {"name": fmt.get("name") or "answer", "schema": fmt.get("schema") or {}}
        if fmt.get("strict") is not None:
            spec["strict"] = fmt["strict"]
        return {"type": "json_schema", "json_schema": spec}
    raise InvalidRequest(f"unsupported text.format type {kind!r}", param="text.format")
