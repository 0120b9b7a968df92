"""A fake OpenAI API speaking the real Chat Completions wire protocol, scripted by model name.

Routes: `POST /v1/chat/completions` (streamed SSE `chat.completion.chunk`s ending in `data: [DONE]`, or
one `chat.completion`), `GET /v1/models`, both with `Authorization: Bearer <key>`; and the Azure form
`POST /openai/deployments/{deployment}/chat/completions?api-version=...` with an `api-key` header.
Errors use OpenAI's body `{"error": {"message", "type", "param", "code"}}`.

Models: anything unlisted echoes "You said: <last user text>" in pieces (usage 11 + 7);
"tool-model" calls the first tool with {"city": "Paris"} (or, after a tool result, answers "The tool
said: <result>"); "slow-first-byte", "reset-mid-stream", "invalid-json", "rate-limited",
"server-error", "overloaded", "bad-key", "content-filter" and "unknown-model" fail as their names say;
Content parts, tool calls and tools with keys OpenAI does not define are refused (400), as the API does.
`POST /v1/responses` answers the same models in the Responses shape (see openai_responses.py);
"responses-only-model" is refused on Chat Completions, as OpenAI refuses its Responses-only models.
"cached-model" echoes with usage details (8 of 11 prompt tokens cached, 3 of 7 completion tokens reasoning).
Failing after two text pieces, as vLLM and OpenRouter do (an `{"error": ...}` data event, then the end):
"rate-limited-mid-stream", "overloaded-mid-stream", "invalid-mid-stream"; "hang-mid-stream" sends two text
pieces and then nothing for 5 s.
`app.state.requests` records every request body, `app.state.urls` every request URL.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from tests.fake_providers.openai_responses import request_error, response_events, response_object

__all__ = ["create_app"]

USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
# "cached-model": OpenAI's automatic prompt caching and reasoning tokens, as its usage reports them.
CACHED_USAGE = {**USAGE, "prompt_tokens_details": {"cached_tokens": 8, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 3, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0,
                                              "rejected_prediction_tokens": 0}}
TOOL_ARGUMENT_PIECES = ('{"city": ', '"Paris"}')
_CREATED = 1_700_000_000
_POLL_S = 0.05


_PART_KEYS = {"text": {"type", "text"}, "image_url": {"type", "image_url"},
              "input_audio": {"type", "input_audio"}, "file": {"type", "file"},
              "refusal": {"type", "refusal"}}
_TOOL_CALL_KEYS = {"id", "type", "function"}
_TOOL_KEYS = {"type", "function"}


def _shape_error(body: dict[str, Any]) -> str | None:
    """OpenAI's schema check of content parts, tool calls and tools: an unknown key is a 400."""
    for i, message in enumerate(body.get("messages") or []):
        content = message.get("content") if isinstance(message, dict) else None
        for j, part in enumerate(content if isinstance(content, list) else []):
            problem = _unexpected(f"messages[{i}].content[{j}]", part,
                                  _PART_KEYS.get(str(part.get("type")), set(part)))
            if problem:
                return problem
        for j, call in enumerate(message.get("tool_calls") or [] if isinstance(message, dict) else []):
            problem = _unexpected(f"messages[{i}].tool_calls[{j}]", call, _TOOL_CALL_KEYS)
            if problem:
                return problem
    for j, tool in enumerate(body.get("tools") or []):
        problem = _unexpected(f"tools[{j}]", tool, _TOOL_KEYS)
        if problem:
            return problem
    return None


def _unexpected(where: str, item: dict[str, Any], allowed: set[str]) -> str | None:
    extra = set(item) - allowed
    if not extra:
        return None
    return f"{where}: Additional properties are not allowed ('{min(extra)}' was unexpected)"


def _error(status: int, message: str, type_: str, code: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _scripted_error(model: str, key: str) -> Response | None:
    """The error answer for the failure-scripted models (None for the others)."""
    errors = {
        "rate-limited": lambda: _error(429, "Rate limit reached for requests", "requests",
                                       "rate_limit_exceeded", headers={"retry-after": "7"}),
        "server-error": lambda: _error(500, "The server had an error while processing your request.",
                                       "server_error"),
        "overloaded": lambda: _error(503, "The engine is currently overloaded, please try again later.",
                                     "server_error"),
        "bad-key": lambda: _bad_key(key),
        "content-filter": lambda: _error(400, "The response was filtered due to the prompt triggering "
                                              "the content management policy.",
                                         "invalid_request_error", "content_filter"),
        "unknown-model": lambda: _error(404, f"The model `{model}` does not exist or you do not have "
                                             "access to it.", "invalid_request_error", "model_not_found"),
    }
    make = errors.get(model)
    return None if make is None else make()


def _bad_key(key: str) -> JSONResponse:
    # NOTE: echoes the whole key on purpose; the adapter under test must redact it.
    return _error(401, f"Incorrect API key provided: {key}. You can find your API key at "
                       "https://platform.openai.com/account/api-keys.", "invalid_request_error",
                  "invalid_api_key")


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if p.get("type") == "text")
    return content or ""


def _pieces(text: str) -> list[str]:
    """The text split after each space (joined, they give the text back exactly)."""
    return [p for p in re.split(r"(?<= )", text) if p]


def _plan(body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """What the model answers: (text, tool call or None)."""
    messages = body.get("messages") or [{}]
    last = messages[-1]
    if body.get("model") == "tool-model":
        if last.get("role") == "tool":
            return f"The tool said: {_text_of(last)}", None
        if body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            return "", {"id": "call_fake_0", "name": name}
    user: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    return f"You said: {_text_of(user)}", None


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": _CREATED, "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}


def _events(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunks of a streamed answer, as OpenAI sends them."""
    model = body["model"]
    text, call = _plan(body)
    events = [_chunk(model, {"role": "assistant", "content": "", "refusal": None})]
    if call is None:
        events += [_chunk(model, {"content": piece}) for piece in _pieces(text)]
        events.append(_chunk(model, {}, "stop"))
    else:
        first = {"index": 0, "id": call["id"], "type": "function",
                 "function": {"name": call["name"], "arguments": ""}}
        events.append(_chunk(model, {"content": None, "tool_calls": [first]}))
        events += [_chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                   for piece in TOOL_ARGUMENT_PIECES]
        events.append(_chunk(model, {}, "tool_calls"))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({**_chunk(model, {}), "choices": [], "usage": _usage(model)})
    return events


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    """The whole answer as one `chat.completion` object."""
    text, call = _plan(body)
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if call is not None:
        message["tool_calls"] = [{"id": call["id"], "type": "function", "function": {
            "name": call["name"], "arguments": "".join(TOOL_ARGUMENT_PIECES)}}]
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": _CREATED,
            "model": body["model"], "system_fingerprint": "fp_fake", "usage": _usage(body["model"]),
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "stop" if call is None else "tool_calls"}]}


def _responses_problem(body: dict[str, Any]) -> Response | None:
    problem = request_error(body)
    return None if problem is None else _error(400, problem, "invalid_request_error")


def _usage(model: str) -> dict[str, Any]:
    return CACHED_USAGE if model == "cached-model" else USAGE


def _sse(data: object) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


# In-stream errors after the role chunk and two text pieces (OpenRouter's and vLLM's shape).
_MID_STREAM_ERRORS = {
    "rate-limited-mid-stream": {"message": "Rate limit reached for tokens", "type": "tokens",
                                "code": "rate_limit_exceeded"},
    "overloaded-mid-stream": {"message": "The engine is currently overloaded", "type": "server_error",
                              "code": 503},
    "invalid-mid-stream": {"message": "Invalid prompt: flagged mid-answer", "type": "invalid_request_error",
                           "code": None},
}


async def _stream(body: dict[str, Any]) -> AsyncIterator[bytes]:
    model = body["model"]
    if model == "invalid-json":
        yield b"data: {this is not json\n\n"
        return
    for n, event in enumerate(_events(body)):
        if model == "reset-mid-stream" and n == 3:  # the role chunk and two text pieces went out
            raise ConnectionResetError("scripted reset mid-stream")
        if model in _MID_STREAM_ERRORS and n == 3:
            yield _sse({"error": _MID_STREAM_ERRORS[model]})
            return
        if model == "hang-mid-stream" and n == 3:
            await asyncio.sleep(5.0)
        yield _sse(event)
        await asyncio.sleep(0)
    yield b"data: [DONE]\n\n"


async def _wait_or_disconnect(request: Request, seconds: float) -> None:
    """Sleep before answering, but stop early once the client has gone (keeps test teardown fast)."""
    for _ in range(round(seconds / _POLL_S)):
        if await request.is_disconnected():
            return
        await asyncio.sleep(_POLL_S)


def create_app(expected_key: str = "test-key") -> FastAPI:
    app = FastAPI()
    app.state.requests = []
    app.state.urls = []

    async def answer(request: Request, key: str) -> Response:
        body = await request.json()
        app.state.requests.append(body)
        app.state.urls.append(str(request.url))
        if key != expected_key:
            return _bad_key(key) if key else _error(
                401, "You didn't provide an API key.", "invalid_request_error", None)
        model = str(body.get("model", ""))
        if model == "slow-first-byte":
            await _wait_or_disconnect(request, 3.0)
        failure = _scripted_error(model, key)
        if failure is not None:
            return failure
        if model == "responses-only-model":
            return _error(400, "This model is only supported in v1/responses and not in v1/chat/completions.",
                          "invalid_request_error", "unsupported_model")
        problem = _shape_error(body)
        if problem is not None:
            return _error(400, problem, "invalid_request_error")
        if body.get("stream"):
            return StreamingResponse(_stream(body), media_type="text/event-stream")
        return JSONResponse(_completion(body))

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        return await answer(request, auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else "")

    @app.post("/v1/responses")
    async def responses(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        key = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
        body = await request.json()
        app.state.requests.append(body)
        if key != expected_key:
            return _bad_key(key) if key else _error(401, "You didn't provide an API key.",
                                                    "invalid_request_error", None)
        model = str(body.get("model", ""))
        if model == "slow-first-byte":
            await _wait_or_disconnect(request, 3.0)
        failure = _scripted_error(model, key) or _responses_problem(body)
        if failure is not None:
            return failure
        if model == "invalid-json":
            return StreamingResponse(iter([b"event: response.created\ndata: {not json\n\n"]),
                                     media_type="text/event-stream")
        if body.get("stream"):
            return StreamingResponse(response_events(body), media_type="text/event-stream")
        return JSONResponse(response_object(body))

    @app.post("/openai/deployments/{deployment}/chat/completions")
    async def azure_chat(request: Request, deployment: str) -> Response:
        if "api-version" not in request.query_params:
            return _error(404, "Resource not found", "invalid_request_error", "404")
        return await answer(request, request.headers.get("api-key", ""))

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {expected_key}":
            return _bad_key(auth.removeprefix("Bearer "))
        names = ["fake-model", "tool-model"]
        return JSONResponse({"object": "list", "data": [
            {"id": n, "object": "model", "created": _CREATED, "owned_by": "fake"} for n in names]})

    return app
