"""OpenAI Chat Completions, spoken to OpenAI, Azure OpenAI and any OpenAI-compatible server.

Follows the Chat Completions API reference (platform.openai.com/docs/api-reference/chat, streaming
chunks `chat.completion.chunk` with `stream_options.include_usage`) and Azure OpenAI's data-plane
inference API (learn.microsoft.com/azure/ai-services/openai/reference, GA api-version 2024-10-21:
`POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...`, header `api-key`).

Our request format *is* this protocol, so the adapters mostly forward the body; what they add:

- `OpenAIChatEngine` (type "openai") is strict: only parameters OpenAI's API defines are sent, and a
  vLLM-only extra (`top_k`, `repetition_penalty`, `min_tokens`, ...) or any other unknown field is
  refused with `InvalidRequest` instead of being dropped. `max_tokens` is sent as
  `max_completion_tokens` to api.openai.com, since reasoning models reject the older name.
- `OpenAICompatibleChatEngine` (type "openai-compatible": remote vLLM, TGI, OpenRouter, Together,
  Mistral, Nebius, ...) forwards every field, because such servers commonly accept vLLM's extras.

Both always stream (`stream: true`, `stream_options: {"include_usage": true}`) and refuse requests
whose answer Stellwerk could not carry back (logprobs, audio output).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from models.catalogue import ModelEntry
from serving.engine import ChatChunk
from serving.errors import EngineFailed, InvalidRequest, StellwerkError
from serving.openai_chunk import chunk_of
from serving.remote.base import DEFAULT_TIMEOUTS, ProviderError, RemoteChatEngine, Timeouts
from serving.remote.chat_rules import check_capabilities
from serving.remote.sse import iter_sse

__all__ = ["AZURE_API_VERSION", "OpenAIChatEngine", "OpenAICompatibleChatEngine", "provider_error"]

logger = logging.getLogger(__name__)

AZURE_API_VERSION = "2024-10-21"
_AZURE_MARKER = "/openai/deployments/"

# Request fields of OpenAI's Chat Completions API (`stream`/`stream_options` are always set by us).
_OPENAI_PARAMS = frozenset({
    "model", "messages", "audio", "frequency_penalty", "function_call", "functions", "logit_bias",
    "logprobs", "max_completion_tokens", "max_tokens", "metadata", "modalities", "n",
    "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "reasoning_effort",
    "response_format", "safety_identifier", "seed", "service_tier", "stop", "store", "temperature",
    "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
})
_OURS = frozenset({"stream", "stream_options"})


# How OpenAI and Azure word a content refusal. Not the base's bare "safety": OpenAI's parameter
# `safety_identifier` appears in ordinary 400 messages about that parameter.
_CONTENT_FILTER_CODES = frozenset({"content_filter", "content_policy_violation"})
_CONTENT_FILTER_WORDS = ("content_filter", "content filter", "content management policy",
                         "content_policy", "safety system")

# In-stream error `type`/`code` words -> the HTTP status the same error has as a response.
_STREAM_ERROR_STATUS = {
    "rate_limit_exceeded": 429, "rate_limit_error": 429, "insufficient_quota": 429, "requests": 429,
    "tokens": 429, "server_error": 500, "internal_error": 500, "overloaded": 503,
    "overloaded_error": 503, "service_unavailable": 503, "invalid_request_error": 400,
    "content_filter": 400, "context_length_exceeded": 400, "invalid_api_key": 401,
    "authentication_error": 401,
}


@dataclass(frozen=True)
class _Target:
    """Where and how to send: the full URL, the auth header's name and its value's prefix."""

    url: httpx.URL
    key_header: str
    key_prefix: str
    azure: bool


def _target_for(base_url: str) -> _Target:
    """The chat completions URL for a base URL; Azure deployments take `api-version` and `api-key`."""
    base = httpx.URL(base_url)
    url = base.copy_with(path=base.path.rstrip("/") + "/chat/completions")
    if _AZURE_MARKER not in base.path:
        return _Target(url, "Authorization", "Bearer ", azure=False)
    if "api-version" not in url.params:
        url = url.copy_merge_params({"api-version": AZURE_API_VERSION})
    return _Target(url, "api-key", "", azure=True)


class OpenAIChatEngine(RemoteChatEngine):
    """OpenAI's own API (or an Azure OpenAI deployment): only OpenAI's parameters are accepted."""

    type: ClassVar[str] = "openai"
    passes_extras: ClassVar[bool] = False  # forward fields OpenAI does not define

    def __init__(self, entry: ModelEntry, api_key: str, client: httpx.AsyncClient,
                 timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        super().__init__(entry, api_key, client, timeouts)
        self._target = _target_for(self.endpoint.base_url)

    @property
    def _provider(self) -> str:
        return "Azure OpenAI" if self._target.azure else "OpenAI"

    def build_request(self, body: Mapping[str, Any], api_key: str) -> httpx.Request:
        target = self._target
        headers = {target.key_header: target.key_prefix + api_key, "Accept": "text/event-stream"}
        return httpx.Request("POST", target.url, json=self.payload(body), headers=headers)

    def payload(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body sent upstream for our OpenAI-format `body`."""
        check_capabilities(self.entry.capabilities, body)
        _refuse_uncarried(body)
        fields = {k: v for k, v in body.items() if k not in _OURS}
        if not self.passes_extras:
            _strip_extensions(fields)
            self._refuse_unknown(fields)
            if not self._target.azure:
                _prefer_max_completion_tokens(fields)
        fields["model"] = self.endpoint.model
        return {**fields, "stream": True, "stream_options": {"include_usage": True}}

    def _refuse_unknown(self, fields: Iterable[str]) -> None:
        for name in sorted(fields):
            if name not in _OPENAI_PARAMS:
                raise InvalidRequest(
                    f"{self._provider} does not support '{name}'; remove it, or choose a local or "
                    f"OpenAI-compatible model that takes it", param=name)

    async def parse_stream(self, response: httpx.Response) -> AsyncIterator[ChatChunk]:
        finished = False
        async for event in iter_sse(response):
            if event.data.strip() == "[DONE]":
                break
            data = json.loads(event.data)
            if not isinstance(data, dict):
                raise ValueError("a stream chunk is not a JSON object")
            if data.get("error"):
                raise self._stream_error(data["error"])
            chunk = chunk_of(data)
            if chunk is None:
                continue
            if chunk.finish_reason is not None:
                if finished:  # exactly one finish per answer, whatever the server sends
                    chunk = ChatChunk(text=chunk.text, usage=chunk.usage, tool_calls=chunk.tool_calls)
                finished = True
            if chunk.text or chunk.tool_calls or chunk.finish_reason or chunk.usage:
                yield chunk
        if not finished:
            raise EngineFailed(f"{self._who()} ended the stream before the answer finished")

    def _stream_error(self, error: object) -> StellwerkError:
        raw = json.dumps({"error": error}).encode()
        return self._error(_stream_error_status(error), raw, httpx.Headers())

    def error_from(self, status: int, body: bytes) -> ProviderError:
        return provider_error(status, body)

    def is_content_filter(self, status: int, error: ProviderError) -> bool:
        message = error.message.lower()
        return error.kind in _CONTENT_FILTER_CODES or any(w in message for w in _CONTENT_FILTER_WORDS)


class OpenAICompatibleChatEngine(OpenAIChatEngine):
    """Any OpenAI-compatible server: every field, vLLM's extras included, is forwarded as sent."""

    type: ClassVar[str] = "openai-compatible"
    passes_extras: ClassVar[bool] = True

    @property
    def _provider(self) -> str:
        return "the OpenAI-compatible server"


# --- request --------------------------------------------------------------------------------------


def _refuse_uncarried(body: Mapping[str, Any]) -> None:
    """Parameters asking for output that a `ChatChunk` cannot carry back to the client."""
    for name in ("logprobs", "top_logprobs", "audio"):
        if body.get(name):
            raise InvalidRequest(f"Stellwerk does not return '{name}' from remote models", param=name)
    modalities = body.get("modalities")
    if modalities and list(modalities) != ["text"]:
        raise InvalidRequest("Stellwerk returns only text from remote models", param="modalities")


def _strip_extensions(fields: dict[str, Any]) -> None:
    """Drop Stellwerk's cross-provider extensions that mean nothing to OpenAI and do not change the
    answer: Anthropic's `cache_control` breakpoints (OpenAI caches prompt prefixes by itself) and a
    Gemini thought signature (`extra_content`) on tool calls. OpenAI-compatible servers get them as sent."""
    fields.pop("cache_control", None)
    if isinstance(fields.get("tools"), list):
        fields["tools"] = [_without(t, "cache_control") for t in fields["tools"]]
    if isinstance(fields.get("messages"), list):
        fields["messages"] = [_message_without_extensions(m) for m in fields["messages"]]


def _message_without_extensions(message: Any) -> Any:
    if not isinstance(message, Mapping):
        return message
    out = dict(message)
    if isinstance(out.get("content"), list):
        out["content"] = [_without(p, "cache_control") for p in out["content"]]
    if isinstance(out.get("tool_calls"), list):
        out["tool_calls"] = [_without(c, "extra_content") for c in out["tool_calls"]]
    return out


def _without(item: Any, key: str) -> Any:
    return {k: v for k, v in item.items() if k != key} if isinstance(item, Mapping) else item


def _prefer_max_completion_tokens(fields: dict[str, Any]) -> None:
    """OpenAI's reasoning models reject `max_tokens`; `max_completion_tokens` works for all models."""
    limit = fields.pop("max_tokens", None)
    if limit is not None and "max_completion_tokens" not in fields:
        fields["max_completion_tokens"] = limit


# --- reply ----------------------------------------------------------------------------------------


# --- errors ---------------------------------------------------------------------------------------


def _stream_error_status(error: object) -> int:
    """The HTTP status an in-stream error object stands for (vLLM and OpenRouter send it as `code`)."""
    if not isinstance(error, Mapping):
        return 500
    code = error.get("code")
    if isinstance(code, int) and 400 <= code <= 599:
        return code
    for word in (code, error.get("type")):
        if isinstance(word, str) and word in _STREAM_ERROR_STATUS:
            return _STREAM_ERROR_STATUS[word]
    return 500


def provider_error(status: int, body: bytes) -> ProviderError:
    """OpenAI's {"error": {message, type, code}}, vLLM's flat {"message", "type"}, or {"detail"}."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        text = body.decode("utf-8", "replace").strip()
        return ProviderError(text or f"HTTP {status} with no error details")
    error = parsed.get("error", parsed)
    if isinstance(error, str):
        return ProviderError(error)
    if not isinstance(error, dict):
        return ProviderError(json.dumps(parsed))
    message = error.get("message") or error.get("detail") or json.dumps(parsed)
    code, kind = error.get("code"), error.get("type")
    return ProviderError(str(message), code if isinstance(code, str) and code else kind)
