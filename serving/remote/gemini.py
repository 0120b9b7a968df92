"""Adapter for Google's Gemini API (`generativelanguage.googleapis.com`, REST `v1beta`).

Followed: the v1beta REST reference for `models.streamGenerateContent` / `GenerateContentRequest` /
`GenerateContentResponse` (ai.google.dev/api/generate-content), function calling
(ai.google.dev/gemini-api/docs/function-calling), structured output and the API error guide
(ai.google.dev/gemini-api/docs/troubleshooting), and the `google-genai` Python SDK's wire format.
We stream with `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`; the key travels only in
the `x-goog-api-key` header. Each SSE `data:` line is one whole `GenerateContentResponse`.

Translation choices (OpenAI Chat Completions -> Gemini):
- system/developer messages -> `systemInstruction` (joined, in order); user -> role "user",
  assistant -> role "model"; adjacent turns of one role are merged (parallel tool results must share
  one turn).
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
from serving.engine import ChatChunk, ToolCallDelta, Usage
from serving.errors import (
    ContentFiltered,
    ContextLengthExceeded,
    EngineFailed,
    InvalidRequest,
    StellwerkError,
)
from serving.remote.base import ProviderError, RemoteChatEngine
from serving.remote.sse import iter_sse

__all__ = ["GeminiChatEngine", "thought_signature", "to_gemini_request"]

Json = dict[str, Any]

# Request fields that need no translation (metadata, or handled by the router).
# `cache_control` is Anthropic's caching hint; Gemini caches implicitly (reported as cachedContentTokenCount).
_IGNORED = frozenset({"model", "messages", "stream", "stream_options", "user", "metadata", "store",
                      "service_tier", "safety_identifier", "prompt_cache_key", "cache_control"})
# Fields that are harmless at these values (vLLM extras and OpenAI switches we cannot honour otherwise).
_NEUTRAL: Mapping[str, object] = {
    "n": 1, "logprobs": False, "top_logprobs": 0, "parallel_tool_calls": True, "ignore_eos": False,
    "min_tokens": 0, "min_p": 0.0, "repetition_penalty": 1.0, "skip_special_tokens": True,
    "echo": False, "include_stop_str_in_output": False, "best_of": 1, "use_beam_search": False,
    "length_penalty": 1.0, "logit_bias": {}, "modalities": ["text"],
}
# OpenAI field -> generationConfig field, copied as is.
_SAMPLING = {"temperature": "temperature", "top_p": "topP", "seed": "seed",
             "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty"}
_HANDLED = frozenset({*_SAMPLING, "top_k", "max_tokens", "max_completion_tokens", "stop", "tools",
                      "tool_choice", "response_format", "reasoning_effort", "thinking"})
_THINKING_BUDGET = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
           "RECITATION": "content_filter", "BLOCKLIST": "content_filter", "LANGUAGE": "content_filter",
           "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
           "IMAGE_SAFETY": "content_filter", "IMAGE_PROHIBITED_CONTENT": "content_filter",
           "IMAGE_RECITATION": "content_filter"}
_FAILED_FINISH = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "MALFORMED_RESPONSE",
                            "MISSING_THOUGHT_SIGNATURE", "TOO_MANY_TOOL_CALLS"})


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
        state = _StreamState()
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
    _refuse_unsupported(body, capabilities)
    system, contents = _contents(body.get("messages") or [], vision=capabilities.vision)
    request: Json = {"contents": contents}
    if system:
        request["systemInstruction"] = {"parts": system}
    if body.get("tools"):
        request["tools"] = [{"functionDeclarations": [_declaration(t) for t in body["tools"]]}]
    tool_config = _tool_config(body.get("tool_choice"), has_tools=bool(body.get("tools")))
    if tool_config is not None:
        request["toolConfig"] = tool_config
    request["generationConfig"] = _generation_config(body)
    return request


def _refuse_unsupported(body: Mapping[str, Any], capabilities: Capabilities) -> None:
    if body.get("tools") and not capabilities.tools:
        raise InvalidRequest("this model does not support tools", param="tools")
    if _response_format(body.get("response_format")) and not capabilities.json_mode:
        raise InvalidRequest("this model does not support JSON output", param="response_format")
    for name, value in body.items():
        if value is None or name in _IGNORED or name in _HANDLED:
            continue
        if name in _NEUTRAL and value == _NEUTRAL[name]:
            continue
        raise InvalidRequest(f"gemini does not support {name!r}={value!r}; remove it or pick another "
                             f"model", param=name)


def _contents(messages: Sequence[Mapping[str, Any]], *, vision: bool) -> tuple[list[Json], list[Json]]:
    system: list[Json] = []
    contents: list[Json] = []
    call_names: dict[str, str] = {}  # tool_call_id -> function name, latest assistant turn wins
    for i, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend({"text": t} for t in _texts(message.get("content"), f"messages[{i}]") if t)
        elif role == "user":
            _append(contents, "user", _user_parts(message.get("content"), vision, f"messages[{i}]"))
        elif role == "assistant":
            _append(contents, "model", _assistant_parts(message, call_names, f"messages[{i}]"))
        elif role == "tool":
            _append(contents, "user", [_function_response(message, call_names, f"messages[{i}]")])
        else:
            raise InvalidRequest(f"unknown message role {role!r}", param=f"messages[{i}].role")
    return system, contents


def _append(contents: list[Json], role: str, parts: list[Json]) -> None:
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _texts(content: object, where: str) -> list[str]:
    """The text of a text-only message (str, or a list of text parts)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in ("text", "refusal"):
                raise InvalidRequest(f"{where}: only text parts are allowed here", param=where)
            texts.append(str(part.get("text") or part.get("refusal") or ""))
        return texts
    raise InvalidRequest(f"{where}: content must be a string or a list of parts", param=where)


def _user_parts(content: object, vision: bool, where: str) -> list[Json]:
    if not isinstance(content, list):
        return [{"text": t} for t in _texts(content, where) if t]
    parts: list[Json] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part["text"]:
                parts.append({"text": part["text"]})
        elif kind == "image_url":
            if not vision:
                raise InvalidRequest(f"{where}: this model does not take images", param=where)
            parts.append(_image_part(part["image_url"], where))
        else:
            raise InvalidRequest(f"{where}: gemini adapter does not support content parts of type "
                                 f"{kind!r}", param=where)
    return parts


def _image_part(image: object, where: str) -> Json:
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise InvalidRequest(f"{where}: image_url needs a url", param=where)
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        mime, _, encoding = header.partition(";")
        if not sep or encoding != "base64" or not mime:
            raise InvalidRequest(f"{where}: image data URLs must be data:<mime>;base64,<data>", param=where)
        return {"inlineData": {"mimeType": mime, "data": data}}
    if url.startswith(("http://", "https://")):
        mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
        return {"fileData": {"fileUri": url, "mimeType": mime}}
    raise InvalidRequest(f"{where}: image URLs must be data: or http(s): URLs", param=where)


def _assistant_parts(message: Mapping[str, Any], call_names: dict[str, str], where: str) -> list[Json]:
    parts: list[Json] = [{"text": t} for t in _texts(message.get("content"), where) if t]
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        name = function.get("name")
        if not name:
            raise InvalidRequest(f"{where}: a tool call has no function name", param=where)
        call_names[str(call.get("id"))] = name
        part: Json = {"functionCall": {"name": name, "args": _arguments(function.get("arguments"), where)}}
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


def _arguments(arguments: object, where: str) -> Json:
    if arguments is None or arguments == "":
        return {}
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        raise InvalidRequest(f"{where}: tool call arguments are not valid JSON", param=where) from None
    if not isinstance(parsed, dict):
        raise InvalidRequest(f"{where}: tool call arguments must be a JSON object", param=where)
    return parsed


def _function_response(message: Mapping[str, Any], call_names: Mapping[str, str], where: str) -> Json:
    call_id = str(message.get("tool_call_id"))
    if call_id not in call_names:
        raise InvalidRequest(f"{where}: tool_call_id {call_id!r} matches no earlier assistant tool call",
                             param=f"{where}.tool_call_id")
    text = "".join(_texts(message.get("content"), where))
    try:
        result: object = json.loads(text)
    except ValueError:
        result = text
    return {"functionResponse": {"name": call_names[call_id], "response": {"result": result}}}


def _declaration(tool: Mapping[str, Any]) -> Json:
    if tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
        raise InvalidRequest(f"gemini supports only function tools, not {tool.get('type')!r}", param="tools")
    function = tool["function"]
    declaration: Json = {"name": function["name"]}
    if function.get("description"):
        declaration["description"] = function["description"]
    if function.get("parameters"):
        declaration["parametersJsonSchema"] = function["parameters"]
    return declaration


def _tool_config(choice: object, *, has_tools: bool) -> Json | None:
    if choice is None or (choice == "none" and not has_tools):
        return None
    if not has_tools:
        raise InvalidRequest("tool_choice needs tools", param="tool_choice")
    if choice in ("auto", "none", "required"):
        mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}[str(choice)]
        return {"functionCallingConfig": {"mode": mode}}
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if name:
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    raise InvalidRequest(f"unsupported tool_choice {choice!r}", param="tool_choice")


def _generation_config(body: Mapping[str, Any]) -> Json:
    config: Json = {"candidateCount": 1}
    for ours, theirs in _SAMPLING.items():
        if body.get(ours) is not None:
            config[theirs] = body[ours]
    if body.get("top_k") is not None and body["top_k"] > 0:  # vLLM's -1/0 mean "off"
        config["topK"] = body["top_k"]
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None:
        config["maxOutputTokens"] = limit
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
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
    kind = response_format.get("type") if isinstance(response_format, dict) else response_format
    if kind in (None, "text"):
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind == "json_schema" and isinstance(response_format, dict):
        schema = (response_format.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            return {"responseMimeType": "application/json", "responseJsonSchema": schema}
    raise InvalidRequest(f"unsupported response_format {response_format!r}", param="response_format")


def _thinking_budget(effort: object) -> int:
    if effort not in _THINKING_BUDGET:
        raise InvalidRequest(f"reasoning_effort must be one of {sorted(_THINKING_BUDGET)}",
                             param="reasoning_effort")
    return _THINKING_BUDGET[str(effort)]


# --- response parsing -------------------------------------------------------------------------------


class _StreamState:
    """What one streamed answer has said so far: tool calls, the finish reason, the latest usage."""

    def __init__(self) -> None:
        self.calls = 0
        self.finish: str | None = None
        self.usage: Usage | None = None

    def feed(self, data: Json) -> list[ChatChunk]:
        if isinstance(data.get("usageMetadata"), dict):
            self.usage = _usage(data["usageMetadata"])
        candidates = data.get("candidates") or []
        if not candidates:
            block = (data.get("promptFeedback") or {}).get("blockReason")
            if block:
                raise ContentFiltered(f"gemini blocked the prompt ({block})")
            return []
        candidate = candidates[0]
        chunks = [c for part in (candidate.get("content") or {}).get("parts") or []
                  if (c := self._part(part)) is not None]
        if candidate.get("finishReason"):
            self.finish = _finish_reason(str(candidate["finishReason"]))
        return chunks

    def _part(self, part: Json) -> ChatChunk | None:
        if part.get("thought"):  # a thought summary: reasoning, not part of the answer
            text = part.get("text")
            return ChatChunk(reasoning=text) if isinstance(text, str) and text else None
        if "functionCall" in part:
            call = part["functionCall"]
            signature = part.get("thoughtSignature")
            # NOTE: Gemini 3 refuses the next turn if this call comes back without its signature.
            extra = {"google": {"thought_signature": signature}} if isinstance(signature, str) and signature \
                else None
            delta = ToolCallDelta(index=self.calls, id=str(call.get("id") or f"call_{self.calls}"),
                                  name=str(call["name"]), arguments=json.dumps(call.get("args") or {}),
                                  extra=extra)
            self.calls += 1
            return ChatChunk(tool_calls=(delta,))
        text = part.get("text")
        return ChatChunk(text=text) if isinstance(text, str) and text else None

    def finish_chunk(self) -> ChatChunk:
        if self.finish is None:
            raise EngineFailed("gemini ended the stream without a finish reason")
        reason = "tool_calls" if self.finish == "stop" and self.calls else self.finish
        return ChatChunk(finish_reason=reason, usage=self.usage)


def _finish_reason(reason: str) -> str:
    if reason in _FAILED_FINISH:
        raise EngineFailed(f"gemini stopped with {reason}")
    return _FINISH.get(reason, "stop")  # OTHER and reasons added later


def _usage(meta: Json) -> Usage:
    """`promptTokenCount` includes `cachedContentTokenCount`; thinking is billed as output."""
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    output = int(meta.get("candidatesTokenCount") or 0) + thoughts
    return Usage(prompt_tokens=int(meta.get("promptTokenCount") or 0), completion_tokens=output,
                 cached_tokens=int(meta.get("cachedContentTokenCount") or 0), reasoning_tokens=thoughts)


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
