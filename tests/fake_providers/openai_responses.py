"""The Responses half of the fake OpenAI API: `POST /v1/responses`, streamed (typed SSE events) or not.

Same scripted models as the Chat Completions fake (echo, "tool-model", "cached-model" and the failure
models), answered as Responses objects and events: `response.created`, `response.in_progress`,
`response.output_item.added`, `response.content_part.added`, `response.output_text.delta`, ...,
`response.output_item.done`, `response.completed`. Request checks as the API makes them: `input` is
required, chat-only fields (`messages`, `stop`, `seed`, `max_tokens`, `n`, `logprobs`) are unknown
parameters (400), and `max_output_tokens` must be at least 16.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["REQUEST_FIELDS", "request_error", "response_events", "response_object"]

REQUEST_FIELDS = frozenset({
    "model", "input", "instructions", "stream", "max_output_tokens", "temperature", "top_p", "tools",
    "tool_choice", "parallel_tool_calls", "reasoning", "text", "store", "metadata", "user",
    "previous_response_id", "truncation", "include", "service_tier", "prompt_cache_key", "safety_identifier",
    "background", "stream_options", "top_logprobs", "max_tool_calls",
})
_USAGE = {"input_tokens": 11, "input_tokens_details": {"cached_tokens": 0},
          "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 18}
_CACHED_USAGE = {**_USAGE, "input_tokens_details": {"cached_tokens": 8},
                 "output_tokens_details": {"reasoning_tokens": 3}}


def request_error(body: dict[str, Any]) -> str | None:
    """The API's 400 message for a malformed Responses request, or None."""
    unknown = sorted(set(body) - REQUEST_FIELDS)
    if unknown:
        return f"Unknown parameter: '{unknown[0]}'."
    if "input" not in body:
        return "Missing required parameter: 'input'."
    limit = body.get("max_output_tokens")
    if limit is not None and limit < 16:
        return ("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, "
                f"got {limit}.")
    return None


def _last_user_text(items: Any) -> str:
    if isinstance(items, str):
        return items
    for item in reversed(items or []):
        if item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return "".join(p.get("text", "") for p in content or [] if p.get("type") == "input_text")
    return ""


def _plan(body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """What the model answers: (text, function call or None)."""
    items = body.get("input")
    last = items[-1] if isinstance(items, list) and items else {}
    if body.get("model") == "tool-model":
        if last.get("type") == "function_call_output":
            return f"The tool said: {last.get('output')}", None
        if body.get("tools"):
            return "", {"call_id": "call_fake_0", "name": body["tools"][0]["name"]}
    return f"You said: {_last_user_text(items)}", None


def response_object(body: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    text, call = _plan(body)
    output: list[dict[str, Any]] = []
    if call is None:
        output.append({"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant",
                       "content": [{"type": "output_text", "text": text, "annotations": []}]})
    else:
        output.append({"type": "function_call", "id": "fc_fake", "call_id": call["call_id"],
                       "name": call["name"], "arguments": '{"city": "Paris"}', "status": "completed"})
    usage = _CACHED_USAGE if body.get("model") == "cached-model" else _USAGE
    return {"id": "resp_fake", "object": "response", "created_at": 1_700_000_000, "status": status,
            "model": body["model"], "output": output, "usage": usage, "error": None,
            "incomplete_details": None}


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


async def response_events(body: dict[str, Any]) -> AsyncIterator[bytes]:
    """The streamed answer; "reset-mid-stream" drops the connection after two text deltas."""
    final = response_object(body)
    started = {**final, "status": "in_progress", "output": [], "usage": None}
    seq = iter(range(1000))
    yield _sse({"type": "response.created", "sequence_number": next(seq), "response": started})
    yield _sse({"type": "response.in_progress", "sequence_number": next(seq), "response": started})
    item = final["output"][0]
    if item["type"] == "function_call":
        yield _sse({"type": "response.output_item.added", "sequence_number": next(seq), "output_index": 0,
                    "item": {**item, "arguments": "", "status": "in_progress"}})
        for piece in ('{"city": ', '"Paris"}'):
            yield _sse({"type": "response.function_call_arguments.delta", "sequence_number": next(seq),
                        "item_id": item["id"], "output_index": 0, "delta": piece})
    else:
        text = item["content"][0]["text"]
        yield _sse({"type": "response.output_item.added", "sequence_number": next(seq), "output_index": 0,
                    "item": {**item, "status": "in_progress", "content": []}})
        for n, piece in enumerate(text.split(" ")):
            if body["model"] == "reset-mid-stream" and n == 2:
                raise ConnectionResetError("scripted reset mid-stream")
            yield _sse({"type": "response.output_text.delta", "sequence_number": next(seq),
                        "item_id": item["id"], "output_index": 0, "content_index": 0,
                        "delta": piece if n == 0 else " " + piece})
    yield _sse({"type": "response.output_item.done", "sequence_number": next(seq), "output_index": 0,
                "item": item})
    yield _sse({"type": "response.completed", "sequence_number": next(seq), "response": final})
