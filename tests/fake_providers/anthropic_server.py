"""A fake of Anthropic's Messages API (`POST /v1/messages`), streaming and not, scripted by model name.

Wire format as the real API: `x-api-key` or `Authorization: Bearer` auth (401 `authentication_error`
otherwise), a required `anthropic-version` header (from 2026-10-21 on, temperature/top_p/top_k are
refused), a request validated like the real one (unknown top-level fields, missing
`max_tokens`, temperature above 1, a thinking budget below 1024 or not below max_tokens, an unknown
`output_config.effort`, `tool_use` without a matching `tool_result` → 400
`invalid_request_error`), errors as `{"type": "error", "error": {"type", "message"}, "request_id"}`,
and streams as typed SSE events: message_start, content_block_start, ping, content_block_delta
(text_delta / input_json_delta), content_block_stop, message_delta (stop_reason, usage.output_tokens),
message_stop.

Models:
- anything unlisted: echo "You said: <last user text>" in >= 3 pieces; usage 11 in / 7 out; end_turn.
- "tool-model": with tools and no tool result last, one `tool_use` of the forced tool (tool_choice
  type "tool") or else the first tool, input {"city": "Paris"} streamed in >= 2 fragments; stop_reason
  tool_use. With a tool result last: "The tool said: <result text>".
- "multi-tool-model": a text block, then two tool_use blocks (Paris, Berlin) of the first tool.
- "cached-model": a thinking block (thinking_delta pieces, then signature_delta), then the echo; usage
  3 uncached + 8 cache-read input tokens, 7 output tokens of which 3 thinking
  (`output_tokens_details.thinking_tokens`).
- "thinking-tool-model": as "tool-model", but the tool_use comes after a signed thinking block. With
  thinking on, the API's rule holds: the last assistant turn with tool_use must start with its signed
  thinking block, else 400.
- "max-tokens": echo, stop_reason max_tokens.
- "content-filter": a short text, stop_reason refusal.
- "overloaded-mid-stream": one text piece, then an `error` event (overloaded_error).
- "slow-first-byte": 3 s before the response headers, then echo.
- "reset-mid-stream": 2 text pieces, then the connection drops.
- "invalid-json": 200, then one SSE data line that is not JSON.
- "rate-limited" 429 (retry-after: 7), "server-error" 500, "overloaded" 529, "unknown-model" 404,
  "bad-key" 401 whose message echoes the key sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

__all__ = ["create_app"]

PROMPT_TOKENS = 11
COMPLETION_TOKENS = 7
SAMPLING_REMOVED_IN = "2026-10-21"
THINKING_SIGNATURE = "EqQBCkYIBxgCKkBmYWtlLXNpZ25hdHVyZQ=="
CACHED_USAGE = {"input_tokens": 3, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 8,
                "output_tokens": 7, "output_tokens_details": {"thinking_tokens": 3}}
TOOL_INPUT_FRAGMENTS = ('{"city": ', '"Paris"}')
_KNOWN_FIELDS = frozenset({
    "model", "messages", "max_tokens", "system", "stop_sequences", "stream", "temperature", "top_p",
    "top_k", "tools", "tool_choice", "metadata", "thinking", "service_tier", "output_config",
    "container", "mcp_servers", "context_management", "inference_geo", "cache_control", "speed",
    "diagnostics", "user_profile_id",
})
_EFFORTS = ("low", "medium", "high", "xhigh", "max")
FORCED_TOOL_REFUSED = frozenset({"claude-opus-5-5", "claude-sonnet-5-5"})  # their model pages say so
_ERRORS: Mapping[str, tuple[int, str, str]] = {
    "rate-limited": (429, "rate_limit_error", "This request would exceed the rate limit for your "
                                              "organization of 50 requests per minute."),
    "server-error": (500, "api_error", "Internal server error"),
    "overloaded": (529, "overloaded_error", "Overloaded"),
}


@dataclass(frozen=True)
class Block:
    """One content block of the scripted answer, with the pieces it streams in."""

    kind: str  # "text", "thinking" or "tool_use"
    pieces: tuple[str, ...]
    name: str = ""
    id: str = ""

    def final(self) -> dict[str, Any]:
        if self.kind == "text":
            return {"type": "text", "text": "".join(self.pieces)}
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": "".join(self.pieces), "signature": THINKING_SIGNATURE}
        arguments = json.loads("".join(self.pieces))
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": arguments}


@dataclass(frozen=True)
class Script:
    blocks: tuple[Block, ...]
    stop_reason: str
    error_after: bool = False  # send an overloaded `error` event after the blocks
    reset_after: bool = False  # drop the connection after the blocks


def error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake0001"}


def error_response(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error_body(kind, message), status_code=status, headers=headers)


def pieces(text: str, n: int = 4) -> tuple[str, ...]:
    size = max(1, -(-len(text) // n))
    return tuple(text[i:i + size] for i in range(0, len(text), size))


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if b.get("type") == "text")


def last_tool_result(messages: list[dict[str, Any]]) -> str | None:
    content = messages[-1].get("content") if messages else None
    if messages[-1].get("role") != "user" or not isinstance(content, list):
        return None
    results = [b for b in content if b.get("type") == "tool_result"]
    return text_of(results[-1].get("content")) if results else None


def last_user_text(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    return text_of(users[-1].get("content")) if users else ""


def tool_use(name: str, n: int, fragments: tuple[str, ...] = TOOL_INPUT_FRAGMENTS) -> Block:
    return Block("tool_use", ("", *fragments), name=name, id=f"toolu_fake{n:02d}")


def script_for(body: dict[str, Any]) -> Script:
    model, messages = body["model"], body["messages"]
    if (body.get("output_config") or {}).get("format"):  # structured output: the text is the JSON
        answer = {"city": "Paris"} if model == "tool-model" else {"said": last_user_text(messages)}
        return Script((Block("text", pieces(json.dumps(answer))),), "end_turn")
    echo = (Block("text", pieces(f"You said: {last_user_text(messages)}")),)
    tools = body.get("tools") or []
    if model == "thinking-tool-model" and tools and last_tool_result(messages) is None:
        return Script((Block("thinking", ("I should ", "call the tool.")), tool_use(tools[0]["name"], 1)),
                      "tool_use")
    if model in ("tool-model", "thinking-tool-model"):
        result = last_tool_result(messages)
        if result is not None:
            return Script((Block("text", pieces(f"The tool said: {result}")),), "end_turn")
        if tools:
            choice = body.get("tool_choice") or {}
            name = choice.get("name") if choice.get("type") == "tool" else tools[0]["name"]
            return Script((tool_use(str(name), 1),), "tool_use")
    if model == "multi-tool-model" and tools:
        name = tools[0]["name"]
        return Script((Block("text", ("Let me ", "check.")), tool_use(name, 1),
                       tool_use(name, 2, ('{"city"', ': "Berlin"}'))), "tool_use")
    scripted = {
        "cached-model": Script((Block("thinking", ("Let me ", "think.")), *echo), "end_turn"),
        "max-tokens": Script(echo, "max_tokens"),
        "content-filter": Script((Block("text", ("I can't ", "help with that.")),), "refusal"),
        "overloaded-mid-stream": Script((Block("text", ("Partial",)),), "end_turn", error_after=True),
        "reset-mid-stream": Script((Block("text", ("Hello", " there")),), "end_turn", reset_after=True),
    }
    return scripted.get(model, Script(echo, "end_turn"))


# --- rendering ----------------------------------------------------------------------------------------


def message_json(body: dict[str, Any], script: Script) -> dict[str, Any]:
    return {"id": "msg_fake0001", "type": "message", "role": "assistant", "model": body["model"],
            "content": [b.final() for b in script.blocks], "stop_reason": script.stop_reason,
            "stop_sequence": None,
            "usage": CACHED_USAGE if body["model"] == "cached-model" else usage(COMPLETION_TOKENS)}


def usage(output_tokens: int) -> dict[str, Any]:
    return {"input_tokens": PROMPT_TOKENS, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "output_tokens": output_tokens}


def sse(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def block_events(index: int, block: Block) -> list[dict[str, Any]]:
    if block.kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in block.pieces]
    elif block.kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [*({"type": "thinking_delta", "thinking": p} for p in block.pieces),
                  {"type": "signature_delta", "signature": THINKING_SIGNATURE}]
    else:
        start = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in block.pieces]
    return [{"type": "content_block_start", "index": index, "content_block": start},
            *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
            {"type": "content_block_stop", "index": index}]


async def stream_events(body: dict[str, Any], script: Script) -> AsyncIterator[bytes]:
    start = message_json(body, script) | {"content": [], "stop_reason": None, "usage": usage(1)}
    yield sse({"type": "message_start", "message": start})
    yield sse({"type": "ping"})
    for index, block in enumerate(script.blocks):
        for event in block_events(index, block):
            yield sse(event)
            await asyncio.sleep(0)
    if script.reset_after:
        raise ConnectionResetError("fake provider drops the connection mid-stream")
    if script.error_after:
        yield sse(error_body("overloaded_error", "Overloaded"))
        return
    final = message_json(body, script)["usage"]
    yield sse({"type": "message_delta", "delta": {"stop_reason": script.stop_reason, "stop_sequence": None},
               "usage": final})  # cumulative, as the API sends it
    yield sse({"type": "message_stop"})


async def broken_json() -> AsyncIterator[bytes]:
    yield b"event: message_start\ndata: {this is not json\n\n"


# --- request checks -----------------------------------------------------------------------------------


def validation_error(body: Any) -> str | None:
    """The first problem the real API would report with this body, or None."""
    if not isinstance(body, dict):
        return "Input should be an object"
    unknown = sorted(set(body) - _KNOWN_FIELDS)
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return f"{name}: Field required"
    if unknown:
        return f"{unknown[0]}: Extra inputs are not permitted"
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return "max_tokens: Input should be a positive integer"
    if not 0 <= body.get("temperature", 0) <= 1:
        return "temperature: Input should be less than or equal to 1"
    return (messages_error(body["messages"]) or thinking_error(body) or cache_control_error(body)
            or thinking_blocks_error(body))


def thinking_blocks_error(body: dict[str, Any]) -> str | None:
    """With thinking on, the last assistant turn that used tools starts with its signed thinking."""
    if (body.get("thinking") or {}).get("type") not in ("enabled", "adaptive"):
        return None
    turns = [m for m in body["messages"] if m["role"] == "assistant" and isinstance(m["content"], list)
             and any(b.get("type") == "tool_use" for b in m["content"])]
    if not turns:
        return None
    first = turns[-1]["content"][0]
    if first.get("type") not in ("thinking", "redacted_thinking"):
        return (f"messages.{body['messages'].index(turns[-1])}.content.0.type: Expected `thinking` or "
                f"`redacted_thinking`, but found `{first.get('type')}`. When `thinking` is enabled, a final "
                "`assistant` message must start with a thinking block")
    if first.get("type") == "thinking" and first.get("signature") != THINKING_SIGNATURE:
        return "Invalid `signature` in `thinking` block"
    return None


def cache_control_error(body: dict[str, Any]) -> str | None:
    """At most 4 cache breakpoints (blocks of system, messages and tools), each {type: ephemeral, ttl?}."""
    blocks = [*(body["system"] if isinstance(body.get("system"), list) else []), *(body.get("tools") or [])]
    for message in body["messages"]:
        blocks += message["content"] if isinstance(message.get("content"), list) else []
    marks = [b["cache_control"] for b in blocks if isinstance(b, dict) and b.get("cache_control")]
    if body.get("cache_control"):
        marks.append(body["cache_control"])
    if any(m.get("type") != "ephemeral" or m.get("ttl", "5m") not in ("5m", "1h") for m in marks):
        return "cache_control: Input tag does not match the expected tags: 'ephemeral' (ttl '5m' or '1h')"
    if len(marks) > 4:
        return f"A maximum of 4 blocks with cache_control may be provided. Found {len(marks)}."
    return None


def thinking_error(body: dict[str, Any]) -> str | None:
    """`thinking` and `output_config.effort` as the API (SDK 2.x types) defines them."""
    thinking = body.get("thinking")
    if thinking is not None:
        kind = thinking.get("type") if isinstance(thinking, dict) else None
        if kind not in ("enabled", "disabled", "adaptive", "between_tools"):
            return "thinking.type: Input should be 'enabled', 'disabled', 'adaptive' or 'between_tools'"
        budget = thinking.get("budget_tokens")
        if kind == "enabled" and not (isinstance(budget, int) and 1024 <= budget < body["max_tokens"]):
            return "thinking.enabled.budget_tokens: must be >= 1024 and less than max_tokens"
    effort = (body.get("output_config") or {}).get("effort")
    if effort is not None and effort not in _EFFORTS:
        return f"output_config.effort: Input should be one of {', '.join(_EFFORTS)}"
    fmt = (body.get("output_config") or {}).get("format")
    if fmt is not None and (fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict)):
        return "output_config.format: Input should be {'type': 'json_schema', 'schema': {...}}"
    forced = (body.get("tool_choice") or {}).get("type") in ("any", "tool")
    if forced and body["model"] in FORCED_TOOL_REFUSED:
        return "tool_choice: forced tool use is not supported by this model"
    return None


def messages_error(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        if not content:
            return f"messages.{i}: all messages must have non-empty content"
        if isinstance(content, list) and any(b.get("type") == "text" and not b.get("text") for b in content):
            return f"messages.{i}: text content blocks must be non-empty"
    return tool_pairing_error(messages)


def tool_pairing_error(messages: list[dict[str, Any]]) -> str | None:
    """Each assistant tool_use needs a tool_result, leading the next (user) message."""
    for i, message in enumerate(messages):
        content = message["content"] if isinstance(message["content"], list) else []
        uses = {b["id"] for b in content if b.get("type") == "tool_use"}
        if message["role"] != "assistant" or not uses:
            continue
        nxt = messages[i + 1]["content"] if i + 1 < len(messages) else []
        following: list[dict[str, Any]] = nxt if isinstance(nxt, list) else [{"type": "text"}]
        results = [b.get("tool_use_id") for b in following if b.get("type") == "tool_result"]
        if uses - set(results):
            return (f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                    f"after: {', '.join(sorted(uses - set(results)))}")
        if following[: len(results)] != [b for b in following if b.get("type") == "tool_result"]:
            return f"messages.{i + 1}: `tool_result` blocks must come first in the message"
    return None


# --- the app ------------------------------------------------------------------------------------------


def create_app(expected_key: str = "test-key") -> FastAPI:
    """The fake; `app.state.requests` records each request body."""
    app = FastAPI()
    app.state.requests = []

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error_response(400, "invalid_request_error", "There was an issue with your request body")
        app.state.requests.append(body)
        early = precheck(request, body, expected_key)
        if early is not None:
            return early
        if body["model"] == "slow-first-byte":
            await asyncio.sleep(3)
        if body["model"] == "invalid-json":
            if body.get("stream"):
                return StreamingResponse(broken_json(), media_type="text/event-stream")
            return Response(b"{this is not json", media_type="application/json")
        script = script_for(body)
        if body.get("stream"):
            return StreamingResponse(stream_events(body, script), media_type="text/event-stream",
                                     headers={"request-id": "req_fake0001"})
        return JSONResponse(message_json(body, script), headers={"request-id": "req_fake0001"})

    return app


def api_key(request: Request) -> str:
    """The key from `x-api-key` (API version 2023-06-01 clients) or `Authorization: Bearer` (SDK 2.x)."""
    bearer = request.headers.get("authorization", "")
    return request.headers.get("x-api-key") or bearer.removeprefix("Bearer ").strip()


def version_error(body: dict[str, Any], version: str) -> str | None:
    """API version 2026-10-21 removed the sampling parameters: sending any of them is a 400."""
    if version < SAMPLING_REMOVED_IN:
        return None
    sent = [name for name in ("temperature", "top_p", "top_k") if name in body]
    return f"{sent[0]}: not supported in API version {version}" if sent else None


def precheck(request: Request, body: Any, expected_key: str) -> Response | None:
    """Auth, version header, validation and the scripted error models, in the real API's order."""
    key = api_key(request)
    model = str(body.get("model")) if isinstance(body, dict) else ""
    if model == "bad-key":
        return error_response(401, "authentication_error", f"invalid x-api-key: {key}")
    if key != expected_key:
        return error_response(401, "authentication_error", "invalid x-api-key")
    version = request.headers.get("anthropic-version")
    if not version:
        return error_response(400, "invalid_request_error", "anthropic-version: header is required")
    problem = validation_error(body) or version_error(body, version)
    if problem is not None:
        return error_response(400, "invalid_request_error", problem)
    if model == "unknown-model":
        return error_response(404, "not_found_error", f"model: {model}")
    if model in _ERRORS:
        status, kind, message = _ERRORS[model]
        headers = {"retry-after": "7"} if status == 429 else None
        return error_response(status, kind, message, headers)
    return None
