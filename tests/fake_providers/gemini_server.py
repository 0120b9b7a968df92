"""A fake of Google's Gemini API (v1beta REST), for the adapter's and the `google-genai` SDK's tests.

Speaks the real wire protocol: `POST /v1beta/models/{model}:generateContent` (also under `/v1`, which
`google-genai` 3.x uses by default; one JSON
`GenerateContentResponse`) and `:streamGenerateContent?alt=sse` (one `data: {...}` event per
`GenerateContentResponse`, framed with CRLF as Google does); the key in the `x-goog-api-key` header or
the `key` query parameter; errors as `{"error": {"code", "message", "status", "details"}}`. A wrong key
gets Google's real answer (400 INVALID_ARGUMENT with reason API_KEY_INVALID), a missing key its 403
PERMISSION_DENIED. Unknown request fields get Google's 400 "Unknown name" error, so adapter typos fail.

Behaviour by model name (see tests/fake_providers: the same script for every provider):
  tool-model       a `functionCall` to the first declared function with {"city": "Paris"} (Gemini sends
                   a call's arguments whole, in one part), or, after a `functionResponse`,
                   "The tool said: <result>"
  slow-first-byte  waits 3 s before the response headers
  reset-mid-stream two text pieces, then the connection drops
  invalid-json     one SSE data line that is not JSON
  rate-limited     429 RESOURCE_EXHAUSTED, `retry-after: 7` and a RetryInfo of 7s
  server-error     500 INTERNAL;   overloaded  503 UNAVAILABLE;   unknown-model  404 NOT_FOUND
  bad-key          401 UNAUTHENTICATED whose message repeats the key that was sent
  content-filter   a stream whose candidate ends with finishReason SAFETY
  blocked-prompt   promptFeedback.blockReason SAFETY and no candidates
  cached-model     echo, preceded by a thought summary part (`thought: true`); usage 11 prompt tokens of
                   which 8 cached (`cachedContentTokenCount`), 4 candidate + 3 thought tokens
  gemini-3-*       Gemini 3 rules: every functionCall part the model sent in the current turn must come
                   back with its `thoughtSignature` (the first call of each step; 400 INVALID_ARGUMENT
                   otherwise, as the real API answers); "gemini-3-tool-model" behaves as tool-model
  anything else    echo: "You said: <last user text>" in 3 pieces; 11 prompt and 7 output tokens
`app.state.requests` records each request body; `app.state.calls` each call's path, `alt` and where
the key came from.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

__all__ = ["create_app"]

Json = dict[str, Any]

_REQUEST_FIELDS = {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig",
                   "safetySettings", "cachedContent", "labels"}
_GENERATION_FIELDS = {"temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "seed",
                      "candidateCount", "responseMimeType", "responseSchema", "responseJsonSchema",
                      "presencePenalty", "frequencyPenalty", "thinkingConfig", "responseModalities",
                      "responseLogprobs", "logprobs", "mediaResolution", "speechConfig"}
_PART_FIELDS = {"text", "inlineData", "fileData", "functionCall", "functionResponse", "thought",
                "thoughtSignature", "executableCode", "codeExecutionResult", "videoMetadata"}

_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def create_app(expected_key: str = "test-key") -> FastAPI:
    app = FastAPI()
    app.state.requests = []
    app.state.calls = []

    @app.post("/{version}/models/{target}")
    async def generate(version: str, target: str, request: Request) -> Response:
        model, _, method = target.rpartition(":")
        stream = method == "streamGenerateContent"
        header_key = request.headers.get("x-goog-api-key")
        key = header_key or request.query_params.get("key")
        app.state.calls.append({"path": request.url.path, "alt": request.query_params.get("alt"),
                                "key_via": "header" if header_key else ("query" if key else None)})
        body = await request.json()
        app.state.requests.append(body)
        if version not in ("v1", "v1beta") or method not in ("generateContent", "streamGenerateContent"):
            return _error(404, f"Method {request.url.path!r} not found.")
        if key is None:
            return _error(403, "Method doesn't allow unregistered callers (callers without established "
                               "identity). Please use API Key or other form of API consumer identity.")
        if model == "bad-key":
            return _error(401, f"Request had invalid authentication credentials: API key {key} is "
                               f"not valid.")
        if key != expected_key:
            return _error(400, "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID")
        problem = _invalid_request(body)
        if problem is None and model.startswith("gemini-3"):
            problem = _missing_signature(body)
        if problem is not None:
            return _error(400, problem)
        return await _answer(model, body, stream)

    return app


async def _answer(model: str, body: Json, stream: bool) -> Response:
    failure = _scripted_failure(model)
    if failure is not None:
        return failure
    if model == "slow-first-byte":
        await asyncio.sleep(3)
    if model == "reset-mid-stream" and stream:
        return _sse(_reset_stream(model))
    if model == "invalid-json":
        if not stream:
            return Response("{not json", media_type="application/json")
        return _sse(_strings(["data: {not json\r\n\r\n"]))
    responses = _script(model, body)
    if stream:
        return _sse(_strings([f"data: {json.dumps(r)}\r\n\r\n" for r in responses]))
    return JSONResponse(_merge(responses))


def _scripted_failure(model: str) -> Response | None:
    if model == "rate-limited":
        return _error(429, "Resource has been exhausted (e.g. check quota).", headers={"retry-after": "7"},
                      details=[{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}])
    if model == "server-error":
        return _error(500, "An internal error has occurred. Please retry or report in "
                           "https://developers.generativeai.google/guide/troubleshooting")
    if model == "overloaded":
        return _error(503, "The model is overloaded. Please try again later.")
    if model == "unknown-model":
        return _error(404, f"models/{model} is not found for API version v1beta, or is not supported "
                           f"for generateContent. Call ListModels to see the list of available models "
                           f"and their supported methods.")
    return None


def _script(model: str, body: Json) -> list[Json]:
    """The streamed `GenerateContentResponse`s for a successful request (non-streaming merges them)."""
    if model == "content-filter":
        return [_response(model, None, finish="SAFETY", done=True)]
    if model == "blocked-prompt":
        return [{"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": _SAFETY_HIGH},
                 "usageMetadata": _usage(done=False), "modelVersion": model, "responseId": "fake-1"}]
    last = (body.get("contents") or [{}])[-1]
    tools = body.get("tools") or []
    tool_model = model in ("tool-model", "gemini-3-tool-model")
    if tool_model and _function_responses(last):
        return _text_responses(model, f"The tool said: {_result_text(_function_responses(last)[-1])}")
    if tool_model and tools:
        name = tools[0]["functionDeclarations"][0]["name"]
        call = {"functionCall": {"name": name, "args": {"city": "Paris"}}, "thoughtSignature": SIGNATURE}
        return [_response(model, [call], finish="STOP", done=True)]
    if model == "cached-model":
        thought = _response(model, [{"text": "Thinking about it.", "thought": True}], finish=None, done=False)
        answer = _text_responses(model, f"You said: {_last_user_text(body)}")
        answer[-1]["usageMetadata"] = CACHED_USAGE
        return [thought, *answer]
    return _text_responses(model, f"You said: {_last_user_text(body)}")


SIGNATURE = "c2lnbmF0dXJlLW9mLXRoZS1mYWtlLXRob3VnaHQ="
CACHED_USAGE = {"promptTokenCount": 11, "cachedContentTokenCount": 8, "candidatesTokenCount": 4,
                "thoughtsTokenCount": 3, "totalTokenCount": 18}


def _missing_signature(body: Json) -> str | None:
    """Gemini 3: in the current turn (after the last user text), the first functionCall part of each
    model step must carry the thoughtSignature it was sent with."""
    contents = body.get("contents") or []
    starts = [i for i, c in enumerate(contents)
              if c.get("role", "user") == "user" and any("text" in p for p in c.get("parts", []))]
    for content in contents[(starts[-1] if starts else 0):]:
        calls = [p for p in content.get("parts", []) if "functionCall" in p]
        if content.get("role") == "model" and calls and not calls[0].get("thoughtSignature"):
            name = calls[0]["functionCall"].get("name")
            return (f"Function call is missing a thought_signature in functionCall parts. This is required "
                    f"for tools to work correctly, and missing thought_signature may lead to degraded model "
                    f"performance. Additional data, function call `default_api:{name}` , position 1. "
                    "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more "
                    "details.")
    return None


def _text_responses(model: str, text: str) -> list[Json]:
    cuts = [0, len(text) // 3, 2 * len(text) // 3, len(text)]
    pieces = [text[a:b] for a, b in itertools.pairwise(cuts)]
    last = len(pieces) - 1
    return [_response(model, [{"text": p}], finish="STOP" if i == last else None, done=i == last)
            for i, p in enumerate(pieces)]


def _response(model: str, parts: list[Json] | None, *, finish: str | None, done: bool) -> Json:
    candidate: Json = {"index": 0}
    if parts is not None:
        candidate["content"] = {"parts": parts, "role": "model"}
    if finish is not None:
        candidate["finishReason"] = finish
    if finish == "SAFETY":
        candidate["safetyRatings"] = _SAFETY_HIGH
    return {"candidates": [candidate], "usageMetadata": _usage(done), "modelVersion": model,
            "responseId": "fake-1"}


_SAFETY_HIGH = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]


def _usage(done: bool) -> Json:
    if not done:
        return {"promptTokenCount": 11, "totalTokenCount": 11}
    return {"promptTokenCount": 11, "candidatesTokenCount": 7, "totalTokenCount": 18,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 11}]}


def _merge(responses: list[Json]) -> Json:
    """One non-streaming response from the streamed ones: parts joined, the last finish and usage."""
    merged = dict(responses[-1])
    if "candidates" not in merged:
        return merged
    parts = [p for r in responses for p in (r["candidates"][0].get("content") or {}).get("parts", [])]
    thoughts = [p for p in parts if p.get("thought")]  # thought summaries stay parts of their own
    text = "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
    joined = thoughts + ([{"text": text}] if text else []) + [p for p in parts if "text" not in p]
    candidate = dict(merged["candidates"][0])
    if joined:
        candidate["content"] = {"parts": joined, "role": "model"}
    merged["candidates"] = [candidate]
    return merged


def _function_responses(content: Json) -> list[Json]:
    return [p["functionResponse"] for p in content.get("parts", []) if "functionResponse" in p]


def _result_text(response: Json) -> str:
    result = (response.get("response") or {}).get("result", response.get("response"))
    return result if isinstance(result, str) else json.dumps(result)


def _last_user_text(body: Json) -> str:
    for content in reversed(body.get("contents") or []):
        texts = [p["text"] for p in content.get("parts", []) if "text" in p]
        if content.get("role", "user") == "user" and texts:
            return "".join(texts)
    return ""


def _invalid_request(body: object) -> str | None:
    """Google's 400 for a malformed request, in its words; None if the request looks right."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received. Expected an object."
    unknown = [*(set(body) - _REQUEST_FIELDS),
               *(set(body.get("generationConfig") or {}) - _GENERATION_FIELDS)]
    if unknown:
        return f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}": Cannot find field.'
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for content in contents:
        if content.get("role", "user") not in ("user", "model", "function"):
            return f"Please use a valid role: user, model. Got {content.get('role')!r}."
        parts = content.get("parts")
        if not parts:
            return "* GenerateContentRequest.contents: contents.parts must not be empty."
        for part in parts:
            if set(part) - _PART_FIELDS:
                unknown_part = sorted(set(part) - _PART_FIELDS)[0]
                return f'Invalid JSON payload received. Unknown name "{unknown_part}": Cannot find field.'
            if len(set(part) & _PART_FIELDS - {"thought", "thoughtSignature"}) != 1:
                return "* GenerateContentRequest.contents.parts: each part needs exactly one data field."
    return None


def _error(code: int, message: str, *, reason: str | None = None, headers: dict[str, str] | None = None,
           details: list[Json] | None = None) -> JSONResponse:
    error: Json = {"code": code, "message": message, "status": _STATUS_NAMES[code]}
    if reason is not None:
        details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"}}]
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=code, headers=headers)


def _sse(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream")


async def _strings(events: list[str]) -> AsyncIterator[str]:
    for event in events:
        yield event
        await asyncio.sleep(0)


async def _reset_stream(model: str) -> AsyncIterator[str]:
    for piece in ("You said", ": hel"):
        yield f"data: {json.dumps(_response(model, [{'text': piece}], finish=None, done=False))}\r\n\r\n"
        await asyncio.sleep(0.01)
    raise ConnectionResetError("fake provider dropped the connection")
