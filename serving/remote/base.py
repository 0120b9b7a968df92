"""The shared half of every remote provider adapter: HTTP, timeouts, secrets, error mapping.

An adapter (one module per provider wire protocol) only translates: `build_request` turns our OpenAI-
format request into the provider's HTTP request, `parse_stream` turns the provider's streamed reply
into `ChatChunk`s, and `error_from` reads the provider's error body. Everything else — sending with
per-provider timeouts on one pooled `httpx.AsyncClient`, mapping statuses into our error tree,
keeping the API key out of every message, counting in-flight requests — lives here once.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from models.catalogue import ModelEntry, RemoteEndpoint
from serving.engine import ChatChunk, EngineStats
from serving.errors import (
    ContentFiltered,
    ContextLengthExceeded,
    EngineFailed,
    EngineUnavailable,
    InvalidRequest,
    ModelUnavailable,
    RateLimited,
    StellwerkError,
    UpstreamAuthFailed,
    UpstreamTimeout,
)
from serving.remote.sse import DEADLINE_EXTENSION, DeadlineExceeded

__all__ = ["DEFAULT_TIMEOUTS", "ProviderError", "RemoteChatEngine", "Timeouts", "retry_after_seconds"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timeouts:
    """Per-provider limits: to connect, between two bytes of the reply, and for the whole answer."""

    connect_s: float = 10.0
    read_s: float = 120.0
    total_s: float = 600.0

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect_s, read=self.read_s, write=self.read_s, pool=self.connect_s)


DEFAULT_TIMEOUTS = Timeouts()


@dataclass(frozen=True)
class ProviderError:
    """What a provider's error body says, in its own words (message never contains our key)."""

    message: str
    kind: str | None = None  # the provider's error type/status string, e.g. "rate_limit_error"


class RemoteChatEngine(ABC):
    """A `ChatEngine` for one remote model. Subclasses set `type` and implement the translation."""

    type: ClassVar[str]

    def __init__(self, entry: ModelEntry, api_key: str, client: httpx.AsyncClient,
                 timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        if entry.remote is None:
            raise ValueError(f"model {entry.id!r} has no remote endpoint")
        self.model_id = entry.id
        self.entry = entry
        self.endpoint: RemoteEndpoint = entry.remote
        self._key = api_key
        self._client = client
        self._timeouts = timeouts
        self._in_flight = 0

    # --- what each adapter implements -------------------------------------------------------------

    @abstractmethod
    def build_request(self, body: Mapping[str, Any], api_key: str) -> httpx.Request:
        """The provider's streaming HTTP request for our OpenAI-format `body`.

        Raise `InvalidRequest` for a parameter the provider cannot honour and that changes the answer.
        """

    @abstractmethod
    def parse_stream(self, response: httpx.Response) -> AsyncIterator[ChatChunk]:
        """Our chunks from the provider's streamed reply (raise `EngineFailed` on malformed data)."""

    @abstractmethod
    def error_from(self, status: int, body: bytes) -> ProviderError:
        """The provider's error body, parsed (it may be empty or not JSON)."""

    def is_content_filter(self, status: int, error: ProviderError) -> bool:
        """Whether a 4xx error is a content-policy refusal (providers word it differently)."""
        text = f"{error.kind or ''} {error.message}".lower()
        return any(w in text for w in ("content_filter", "content filter", "content_policy"))

    # --- shared -----------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.endpoint.base_url.rstrip("/") + path

    async def chat(self, request: Mapping[str, Any]) -> AsyncIterator[ChatChunk]:
        # NOTE: no catch-all here: an adapter raises `InvalidRequest` for what the client got wrong; any
        # other exception is a bug in our translation and must surface as a 500, not blame the client.
        http_request = self.build_request(request, self._key)
        http_request.extensions["timeout"] = self._timeouts.httpx().as_dict()
        # NOTE: read by serving.remote.sse.iter_sse on every line, keep-alives included, so a stream
        # that only pings still ends at the total timeout.
        http_request.extensions[DEADLINE_EXTENSION] = time.monotonic() + self._timeouts.total_s
        self._in_flight += 1
        try:
            response = await self._send(http_request)
            try:
                async for chunk in self._chunks(response):
                    yield chunk
            finally:
                await response.aclose()
        finally:
            self._in_flight -= 1

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"{self._who()} did not answer in time ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"{self._who()} is unreachable ({type(exc).__name__})") from None
        if response.status_code >= 400:
            try:
                body = await response.aread()
            except httpx.HTTPError:
                body = b""
            finally:
                await response.aclose()
            raise self._error(response.status_code, body, response.headers)
        return response

    async def _chunks(self, response: httpx.Response) -> AsyncIterator[ChatChunk]:
        try:
            async for chunk in self.parse_stream(response):
                yield chunk
        except DeadlineExceeded:
            raise UpstreamTimeout(
                f"{self._who()} took longer than {self._timeouts.total_s:g} s in all") from None
        except StellwerkError:
            raise
        except httpx.TimeoutException:
            raise UpstreamTimeout(f"{self._who()} stopped sending mid-answer") from None
        except httpx.HTTPError as exc:
            raise EngineFailed(f"{self._who()} broke the connection mid-answer ({type(exc).__name__})") \
                from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # malformed JSON or shape
            raise EngineFailed(f"{self._who()} sent a malformed reply ({type(exc).__name__})") from None

    def _error(self, status: int, body: bytes, headers: httpx.Headers) -> StellwerkError:
        error = self.error_from(status, body)
        detail = self._redact(error.message)[:500]
        who = self._who()
        if status == 429:
            return RateLimited(f"{who} is rate limiting: {detail}",
                               retry_after_s=retry_after_seconds(headers))
        if status in (401, 403):
            logger.warning("%s refused the API key from %s (%d)", who, self.endpoint.api_key_env, status)
            return UpstreamAuthFailed(f"{who} refused Stellwerk's API key for this provider ({status}); "
                                      f"check {self.endpoint.api_key_env}")
        if status == 404:
            return ModelUnavailable(f"{who} does not know the model {self.endpoint.model!r}: {detail}")
        if status in (400, 413, 422):
            if error.kind == "context_length_exceeded":
                return ContextLengthExceeded(
                    f"{who}: the prompt is longer than the model's context: {detail}", param="messages")
            if self.is_content_filter(status, error):
                return ContentFiltered(f"{who} refused the content: {detail}")
            return InvalidRequest(f"{who} rejected the request: {detail}")
        if status in (408, 504):
            return UpstreamTimeout(f"{who} timed out: {detail}")
        if status in (502, 503, 529):
            return EngineUnavailable(f"{who} is unavailable ({status}): {detail}")
        return EngineFailed(f"{who} failed ({status}): {detail}")

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text

    def _who(self) -> str:
        return f"provider {self.endpoint.type!r} ({self.model_id})"

    async def check_health(self) -> None:
        """Remote providers are checked by use; a missing key makes the model unavailable earlier."""
        return None

    async def stats(self) -> EngineStats:
        return EngineStats(running=self._in_flight, waiting=0, replicas=0)


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """Retry-After in seconds (numeric form), or None if absent or an HTTP date we do not parse."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
