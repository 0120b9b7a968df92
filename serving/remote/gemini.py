"""Adapter for Google's Gemini API (`generativelanguage.googleapis.com`, REST `v1beta`).

Followed: the v1beta REST reference for `models.streamGenerateContent` / `GenerateContentRequest` /
`GenerateContentResponse` (ai.google.dev/api/generate-content), function calling
(ai.google.dev/gemini-api/docs/function-calling), structured output and the API error guide
(ai.google.dev/gemini-api/docs/troubleshooting), and the `google-genai` Python SDK's wire format.
We stream with `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`; the key travels only in
the `x-goog-api-key` header. Each SSE `data:` line is one whole `GenerateContentResponse`.

Translation choices (OpenAI Chat Completions -> Gemini):
- system/developer messages -> `systemInstruction` (joined, in order); user -> role "user",
  assistant -> role "model"; the rules every adapter shares (merging adjacent turns of one role,
  refusing fields we cannot honour, ...) are in `serving.remote.chat_rules`.
- Images: `data:` URLs -> `inlineData`; http(s) URLs -> `fileData {fileUri, mimeType}` (the mime
  type guessed from the URL's extension, else image/jpeg); Gemini fetches them itself.
- Tools -> `functionDeclarations` with `parametersJsonSchema` (full JSON Schema, as OpenAI clients
  write it; the older `parameters` field only takes an OpenAPI subset and rejects e.g.
  `additionalProperties`). `json_schema` response formats likewise go to `responseJsonSchema`.
- Gemini 3 function calls carry a `thoughtSignature` that must come back with the call on the next
  turn (else 400). It travels to the client as the tool call's `extra_content.google.thought_signature`
  (Google's own OpenAI-compatible endpoint uses that place) and is sent back from there. Thought
  summaries (`thought: true` parts) are streamed as reasoning, not as answer text.
- Gemini function calls carry no ids: we use the call's own `id` when present, else `call_<index>`.
  A tool message's function name is looked up from the latest assistant call with that id. Each
  call's arguments arrive whole, so they are emitted as one fragment.
- `reasoning_effort` -> `thinkingConfig.thinkingBudget` (none 0, minimal/low 1024, medium 8192,
  high 24576: Google's own table for its OpenAI-compatible endpoint, Gemini 2.5 models).
- Usage: completion tokens are `candidatesTokenCount + thoughtsTokenCount` (thinking is billed as
  output). A prompt blocked outright (`promptFeedback.blockReason`, no candidates) raises
  `ContentFiltered` (400, like OpenAI's prompt filter); an answer stopped for safety ends with
  finish_reason "content_filter".
- Google answers a wrong key with 400 INVALID_ARGUMENT / reason API_KEY_INVALID: mapped to
  `UpstreamAuthFailed` like 401/403. A 429 without Retry-After takes the body's `RetryInfo` delay.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from models.catalogue import Capabilities
from serving.engine import ChatChunk
from serving.errors import (
    ContextLengthExceeded,
    InvalidRequest,
    StellwerkError,
)
from serving.remote.base import ProviderError, RemoteChatEngine
from serving.remote.chat_rules import (
    DataUrl,
    check_capabilities,
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
from serving.remote.gemini_stream import StreamState
from serving.remote.sse import iter_sse

__all__ = ["GeminiChatEngine", "thought_signature", "to_gemini_request"]

Json = dict[str, Any]

# Translated below, or needing no translation (metadata, or handled by the router); the rest is refused
# unless at its no-op value (`chat_rules.NEUTRAL`). `cache_control` is Anthropic's caching hint; Gemini
# caches implicitly (reported as cachedContentTokenCount).
_HANDLED = frozenset({"model", "messages", "stream", "stream_options", "user", "metadata", "store",
                      "service_tier", "safety_identifier", "prompt_cache_key", "cache_control",
                      "temperature", "top_p", "seed", "presence_penalty", "frequency_penalty", "top_k",
                      "max_tokens", "max_completion_tokens", "stop", "tools", "tool_choice",
                      "response_format", "reasoning_effort", "thinking"})
# OpenAI field -> generationConfig field, copied as is.
_SAMPLING = {"temperature": "temperature", "top_p": "topP", "seed": "seed",
             "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty"}
_TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "function": "ANY"}
_THINKING_BUDGET = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}


class GeminiChatEngine(RemoteChatEngine):
    """A Gemini model behind the Gemini API's `streamGenerateContent` (SSE)."""

    type: ClassVar[str] = "gemini"

    def build_request(self, body: Mapping[str, Any], api_key: str) -> httpx.Request:
        payload = to_gemini_request(body, self.entry.capabilities)
        model = self.endpoint.model if "/" in self.endpoint.model else f"models/{self.endpoint.model}"
        return httpx.Request(
            "POST", self.url(f"/v1beta/{quote(model)}:streamGenerateContent"), params={"alt": "sse"},
            headers={"x-goog-api-key": api_key, "accept": "text/event-stream"}, json=payload)

    async def parse_stream(self, response: httpx.Response) -> AsyncIterator[ChatChunk]:
        state = StreamState()
        async for event in iter_sse(response):
            data = json.loads(event.data)
            if not isinstance(data, dict):
                raise ValueError("a stream event is not a JSON object")
            if "error" in data:
                raise self._stream_error(data)
            for chunk in state.feed(data):
                yield chunk
        yield state.finish_chunk()

    def error_from(self, status: int, body: bytes) -> ProviderError:
        error = _error_object(body)
        if error is None:
            text = body.decode("utf-8", "replace").strip()
            return ProviderError(text or f"HTTP {status}")
        reason = _error_reason(error)
        return ProviderError(str(error.get("message") or f"HTTP {status}"),
                             kind=reason or _str_or_none(error.get("status")))

    def _error(self, status: int, body: bytes, headers: httpx.Headers) -> StellwerkError:
        error = _error_object(body) or {}
        if status == 400 and _error_reason(error) == "API_KEY_INVALID":
            status = 401  # Google's answer to a wrong key is a 400, but it is an auth failure
        if status == 400 and "exceeds the maximum number of tokens" in str(error.get("message", "")):
            detail = self._redact(str(error["message"]))[:500]
            return ContextLengthExceeded(f"{self._who()} rejected the request: {detail}")
        if status == 429 and "retry-after" not in headers:
            delay = _retry_delay(error)
            if delay is not None:
                headers = httpx.Headers({**headers, "retry-after": delay})
        return super()._error(status, body, headers)

    def _stream_error(self, data: Json) -> StellwerkError:
        error = data["error"]
        code = error.get("code") if isinstance(error, dict) else None
        status = code if isinstance(code, int) and code >= 400 else 500
        return self._error(status, json.dumps(data).encode(), httpx.Headers())


# --- request translation ----------------------------------------------------------------------------


def to_gemini_request(body: Mapping[str, Any], capabilities: Capabilities) -> Json:
    """The `GenerateContentRequest` JSON for an OpenAI Chat Completions body."""
    check_capabilities(capabilities, body)
    refuse_unknown_fields(body, "gemini", _HANDLED)
    system, contents = _contents(body.get("messages") or [], vision=capabilities.vision)
    request: Json = {"contents": contents}
    if system:
        request["systemInstruction"] = {"parts": system}
    functions = tool_functions(body, "gemini")
    if functions:
        request["tools"] = [{"functionDeclarations": [_declaration(f) for f in functions]}]
    choice = tool_choice(body.get("tool_choice"), has_tools=bool(functions))
    if choice is not None and functions:
        config: Json = {"mode": _TOOL_MODES[choice.mode]}
        if choice.name is not None:
            config["allowedFunctionNames"] = [choice.name]
        request["toolConfig"] = {"functionCallingConfig": config}
    request["generationConfig"] = _generation_config(body)
    return request


def _contents(messages: Sequence[Mapping[str, Any]], *, vision: bool) -> tuple[list[Json], list[Json]]:
    system: list[Json] = []
    contents: list[Json] = []
    call_names: dict[str, str] = {}  # tool_call_id -> function name, latest assistant turn wins
    for i, message in enumerate(messages):
        role, where = message.get("role"), f"messages[{i}]"
        if role in ("system", "developer"):
            system.extend({"text": t} for t in text_only(message.get("content"), where) if t)
        elif role == "user":
            merge_turn(contents, "user", "parts", _user_parts(message.get("content"), vision, where))
        elif role == "assistant":
            merge_turn(contents, "model", "parts", _assistant_parts(message, call_names, where))
        elif role == "tool":
            merge_turn(contents, "user", "parts", [_function_response(message, call_names, where)])
        else:
            raise InvalidRequest(f"unknown message role {role!r}", param=f"{where}.role")
    return system, contents


def _user_parts(content: object, vision: bool, where: str) -> list[Json]:
    parts: list[Json] = []
    for part in content_parts(content, where):
        kind = part.get("type")
        if kind == "text":
            if part["text"]:  # NOTE: direct access: the router's schema checked the parts already
                parts.append({"text": part["text"]})
        elif kind == "image_url":
            parts.append(_image_part(image_url(part["image_url"], vision=vision, where=where)))
        else:
            raise InvalidRequest(f"{where}: gemini adapter does not support content parts of type "
                                 f"{kind!r}", param=where)
    return parts


def _image_part(image: str | DataUrl) -> Json:
    """Inline data for a data URL; Gemini fetches an http(s) URL itself (its type guessed from the URL's
    extension, else image/jpeg)."""
    if isinstance(image, DataUrl):
        return {"inlineData": {"mimeType": image.media_type, "data": image.data}}
    mime = mimetypes.guess_type(image.split("?", 1)[0])[0] or "image/jpeg"
    return {"fileData": {"fileUri": image, "mimeType": mime}}


def _assistant_parts(message: Mapping[str, Any], call_names: dict[str, str], where: str) -> list[Json]:
    parts: list[Json] = [{"text": t} for t in text_only(message.get("content"), where) if t]
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        name = function.get("name")
        if not name:
            raise InvalidRequest(f"{where}: a tool call has no function name", param=where)
        call_names[str(call.get("id"))] = name
        args = tool_arguments(function.get("arguments"), where)
        part: Json = {"functionCall": {"name": name, "args": args}}
        signature = thought_signature(call)
        if signature is not None:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def thought_signature(call: Mapping[str, Any]) -> str | None:
    """The Gemini thought signature an OpenAI tool call carries back (Google's own OpenAI-compatible
    endpoint uses the same place: `extra_content.google.thought_signature`)."""
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, Mapping) else None
    signature = google.get("thought_signature") if isinstance(google, Mapping) else None
    return signature if isinstance(signature, str) and signature else None


def _function_response(message: Mapping[str, Any], call_names: Mapping[str, str], where: str) -> Json:
    call_id = str(message.get("tool_call_id"))
    if call_id not in call_names:
        raise InvalidRequest(f"{where}: tool_call_id {call_id!r} matches no earlier assistant tool call",
                             param=f"{where}.tool_call_id")
    text = "".join(text_only(message.get("content"), where))
    try:
        result: object = json.loads(text)
    except ValueError:
        result = text
    return {"functionResponse": {"name": call_names[call_id], "response": {"result": result}}}


def _declaration(function: Mapping[str, Any]) -> Json:
    declaration: Json = {"name": function["name"]}
    if function.get("description"):
        declaration["description"] = function["description"]
    if function.get("parameters"):
        declaration["parametersJsonSchema"] = function["parameters"]
    return declaration


def _generation_config(body: Mapping[str, Any]) -> Json:
    config: Json = {"candidateCount": 1}
    for ours, theirs in _SAMPLING.items():
        if body.get(ours) is not None:
            config[theirs] = body[ours]
    if top_k(body) is not None:
        config["topK"] = top_k(body)
    if output_limit(body) is not None:
        config["maxOutputTokens"] = output_limit(body)
    if stop_sequences(body):
        config["stopSequences"] = stop_sequences(body)
    config.update(_response_format(body.get("response_format")))
    if body.get("reasoning_effort") is not None:
        config["thinkingConfig"] = {"thinkingBudget": _thinking_budget(body["reasoning_effort"])}
    if body.get("thinking") is not None:
        config["thinkingConfig"] = _thinking_config(body["thinking"])
    return config


def _thinking_config(thinking: object) -> Json:
    """Anthropic's `thinking` -> `thinkingConfig`: a budget is a budget, adaptive is Gemini's dynamic
    thinking (-1), disabled is 0; thought summaries are asked for whenever the model may think."""
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "disabled":
        return {"thinkingBudget": 0}
    if kind == "adaptive":
        return {"thinkingBudget": -1, "includeThoughts": True}
    budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
    if kind != "enabled" or not isinstance(budget, int) or budget < 0:
        raise InvalidRequest("gemini takes thinking {type: enabled, budget_tokens: N}, adaptive or disabled",
                             param="thinking")
    return {"thinkingBudget": budget, "includeThoughts": True}


def _response_format(response_format: object) -> Json:
    schema = response_schema(response_format, "gemini")
    if schema is None:
        return {}
    if isinstance(response_format, Mapping) and response_format.get("type") == "json_object":
        return {"responseMimeType": "application/json"}
    return {"responseMimeType": "application/json", "responseJsonSchema": schema}


def _thinking_budget(effort: object) -> int:
    if effort not in _THINKING_BUDGET:
        raise InvalidRequest(f"reasoning_effort must be one of {sorted(_THINKING_BUDGET)}",
                             param="reasoning_effort")
    return _THINKING_BUDGET[str(effort)]


# --- errors -----------------------------------------------------------------------------------------


def _error_object(body: bytes) -> Json | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, list) and data:  # some Google front ends wrap the error in a list
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else None


def _details(error: Json) -> list[Json]:
    details = error.get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _error_reason(error: Json) -> str | None:
    for detail in _details(error):
        if str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo") and detail.get("reason"):
            return str(detail["reason"])
    return None


def _retry_delay(error: Json) -> str | None:
    """RetryInfo's delay ("7s", "0.5s") in seconds, as a Retry-After value."""
    for detail in _details(error):
        delay = detail.get("retryDelay")
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo") and isinstance(delay, str):
            return delay.removesuffix("s") or None
    return None


def _str_or_none(value: object) -> str | None:
    return str(value) if value is not None else None
