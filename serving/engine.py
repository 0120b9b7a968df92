"""The one engine interface the router talks to, for local (Ray Serve + vLLM) and remote models alike.

An engine turns an OpenAI-format chat request into a stream of typed `ChatChunk`s. Non-streaming
answers are assembled from the same stream by the router, so every engine has one code path.
Cancellation is part of the contract: when the consumer stops iterating (client gone), the engine
must stop generating — closing the async iterator must abort the request upstream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ChatChunk",
    "ChatEngine",
    "EmbeddingEngine",
    "EmbeddingResult",
    "EngineStats",
    "ToolCallDelta",
    "Usage",
]


@dataclass(frozen=True)
class Usage:
    """Token counts as OpenAI reports them: `prompt_tokens` includes the cached and cache-written
    tokens, `completion_tokens` includes the reasoning (thinking) tokens, which every provider bills
    as output."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0  # prompt tokens read from the provider's prompt cache
    cache_write_tokens: int = 0  # prompt tokens written to the cache (Anthropic bills them apart)
    reasoning_tokens: int = 0  # completion tokens spent thinking

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of one tool call, as OpenAI streams them: the first piece of call `index` carries its
    `id` and function `name`, later pieces append to its JSON `arguments`."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    # What the provider wants back with this call on the next turn, by provider: Gemini 3's thought
    # signature ({"google": {"thought_signature": ...}}, where Google's own OpenAI-compatible endpoint
    # puts it) or Claude's signed thinking blocks ({"anthropic": {"thinking": [...]}}). Clients carry
    # it, opaque, as the tool call's `extra_content` and send it back unchanged.
    extra: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ChatChunk:
    """One piece of a chat answer: new text or tool-call pieces, and/or the end of the choice,
    and/or final usage. `finish_reason` uses OpenAI's words: stop, length, tool_calls,
    content_filter."""

    text: str = ""
    role: str | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    reasoning: str = ""  # thinking text, where the provider returns it (not part of the answer)


@dataclass(frozen=True)
class EngineStats:
    """Live load of one engine (all replicas together), read from the engine itself."""

    running: int
    waiting: int
    replicas: int
    kv_cache_usage: float | None = None
    extra: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EmbeddingResult:
    vectors: list[list[float]]
    prompt_tokens: int


@runtime_checkable
class ChatEngine(Protocol):
    """Serves chat completions for one catalogue model."""

    model_id: str

    def chat(self, request: Mapping[str, Any]) -> AsyncIterator[ChatChunk]:
        """Stream the answer to an OpenAI chat request (already validated, `model` resolved).

        Raises `serving.errors.StellwerkError` subclasses: before the first chunk for request
        problems (400) or an unavailable engine (503); after it, for failures mid-stream.
        """
        ...

    async def check_health(self) -> None:
        """Return if the engine can take requests; raise `EngineUnavailable` otherwise."""
        ...

    async def stats(self) -> EngineStats:
        """Current queue depth; raise `EngineUnavailable` when it cannot be read."""
        ...


@runtime_checkable
class EmbeddingEngine(Protocol):
    """Serves embeddings for one catalogue model."""

    model_id: str

    async def embed(self, inputs: list[str]) -> EmbeddingResult:
        ...

    async def check_health(self) -> None:
        ...
