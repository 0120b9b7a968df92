"""Chat completions: resolve the model, apply its defaults, run the engine, shape the OpenAI answer.

`ChatService.open` does everything up to and including the engine's first chunk, so every error that
can be known before the first byte becomes a real HTTP status; after that, a failure can only be an
SSE error event (see `ChatRun.stream_events`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span

from models.catalogue import ModelEntry
from router.chat.text import clean_chunk
from router.cost import request_cost
from router.features.request_features import estimate_prompt_tokens
from router.metrics import RouterMetrics
from router.registry import AUTO, ModelRegistry
from router.routing.candidates import CandidatePolicy
from router.routing.hints import RoutingHints
from router.routing.service import Dispatch, RoutingService
from router.run_events import Delta, RunDone, RunError, RunEvent, RunStarted
from router.schemas import ChatCompletionRequest
from router.tracing import end_engine_span, engine_context, start_engine_span
from serving.engine import ChatChunk, ToolCallDelta, Usage
from serving.errors import (
    AllCandidatesFailed,
    ContextLengthExceeded,
    EngineFailed,
    InternalError,
    ModelUnavailable,
    RateLimited,
    StellwerkError,
    UpstreamError,
    UpstreamTimeout,
)

__all__ = ["DEFAULT_FIRST_CHUNK_TIMEOUT_S", "ChatRun", "ChatService", "Route", "usage_body", "usage_details"]

logger = logging.getLogger(__name__)

# How long to wait for an engine's first chunk (queueing + prefill) before answering 504.
DEFAULT_FIRST_CHUNK_TIMEOUT_S = 300.0
_ENDPOINT = "chat"


def new_run_id() -> str:
    """A unique answer id. NOTE: 128 bits from the process's seeded PRNG (reseeded after fork), not
    `uuid4`: its `os.urandom` syscall releases the GIL on every request, handing it to the ledger
    writer's thread for up to a switch interval (5 ms) under load. Ids name answers; they guard nothing."""
    return f"chatcmpl-{_ids.getrandbits(128):032x}"


_ids = random.Random()


class ChatService:
    """Opens chat runs against the engines in a `ModelRegistry`, routing `model: auto` requests."""

    def __init__(
        self,
        registry: ModelRegistry,
        metrics: RouterMetrics,
        routing: RoutingService,
        *,
        first_chunk_timeout_s: float = DEFAULT_FIRST_CHUNK_TIMEOUT_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._registry = registry
        self._metrics = metrics
        self._routing = routing
        self._timeout = first_chunk_timeout_s
        self._clock = clock

    async def open(self, request: ChatCompletionRequest, *, hints: RoutingHints | None = None,
                   policies: Sequence[CandidatePolicy] = ()) -> ChatRun:
        """Route the request and wait for its first chunk. A named model is used as named (after the
        policy check); `auto` tries the decision's candidates in order while they fail before their
        first byte with an error another model might not have (bounded by `fallback.max_attempts`)."""
        started = self._clock()
        run_id = new_run_id()
        if request.model != AUTO:
            entry, _ = self._registry.chat_engine(request.model)
            self._routing.check_allowed(entry, policies)
            check_fits(entry, request)
            return await self._open_on(entry, request, Route("requested"), run_id, started, 0,
                                       estimate_prompt_tokens(request))
        decision = await self._routing.decide(request, request_id=run_id, policies=policies, hints=hints)
        attempts = decision.order[: self._routing.max_attempts()]
        failed: list[str] = []
        failures: list[tuple[str, StellwerkError]] = []
        for i, entry in enumerate(attempts):
            route = Route(decision.reason if i == 0 else "fallback", decision.objective, tuple(failed))
            try:
                run = await self._open_on(entry, request, route, run_id, started, i,
                                          decision.features.prompt_tokens)
            except StellwerkError as exc:
                if not _worth_another_model(exc):
                    raise
                failures.append((entry.id, exc))
                if i == len(attempts) - 1:
                    if len(failures) == 1:
                        raise
                    raise AllCandidatesFailed(failures) from exc
                logger.warning("auto: %s failed before its first byte (%s); trying %s",
                               entry.id, exc.code or exc.error_type, attempts[i + 1].id)
                self._metrics.fallbacks.labels(entry.id, exc.code or exc.error_type).inc()
                failed.append(entry.id)
                continue
            if failed:
                self._metrics.routes.labels(entry.id, "fallback").inc()
            return run
        raise AssertionError("unreachable: the decision has at least one candidate")

    async def _open_on(self, entry: ModelEntry, request: ChatCompletionRequest, route: Route,
                       run_id: str, started: float, attempt: int, prompt_tokens: int) -> ChatRun:
        """Send the request to `entry`; `prompt_tokens` (estimated once per request) teaches the TTFT
        model."""
        _, engine = self._registry.chat_engine(entry.id)
        dispatch = self._routing.dispatch(entry, prompt_tokens)
        body = engine_request(request, entry)
        span = start_engine_span(entry.id, entry.provider, body, attempt=attempt, route=route.reason)
        chunks = engine.chat(body)
        run = ChatRun(entry=entry, route=route, chunks=chunks, metrics=self._metrics,
                      clock=self._clock, started=started, dispatch=dispatch, id=run_id, span=span,
                      include_usage=bool(request.stream_options and request.stream_options.include_usage))
        try:
            await run.peek(self._timeout)
        except StellwerkError as exc:
            if _worth_another_model(exc):
                self._routing.failed(entry, exc)
            raise
        self._routing.succeeded(entry)
        return run


@dataclass(frozen=True)
class Route:
    """How a run's model was chosen: the reason code, the objective, and models that failed first."""

    reason: str
    objective: str | None = None
    failed: tuple[str, ...] = ()

    def headers(self) -> dict[str, str]:
        headers = {"x-stellwerk-route": self.reason}
        if self.objective is not None:
            headers["x-stellwerk-objective"] = self.objective
        if self.failed:
            headers["x-stellwerk-fallback-from"] = ",".join(self.failed)
        return headers


# No tokenizer averages more characters per token than this over a whole prompt, so chars / 8 is a
# lower bound on the prompt's tokens: a request over the context by that count cannot fit anywhere.
_MAX_CHARS_PER_TOKEN = 8


def check_fits(entry: ModelEntry, request: ChatCompletionRequest) -> None:
    """400 `context_length_exceeded` for a request the named model surely cannot take, before it is
    sent (a huge prompt is not forwarded to a provider); the engine checks the exact count."""
    at_least = request.prompt_chars() // _MAX_CHARS_PER_TOKEN + (request.output_limit() or 0)
    context = entry.capabilities.context_length
    if at_least > context:
        raise ContextLengthExceeded(
            f"the request needs at least {at_least} tokens (prompt and max_tokens); model {entry.id!r} has a "
            f"context of {context}", param="messages")


def _worth_another_model(exc: StellwerkError) -> bool:
    """Errors of the model or provider, not of the request: another candidate may well succeed."""
    return isinstance(exc, UpstreamError | RateLimited | ContextLengthExceeded | ModelUnavailable)


def usage_details(u: Usage) -> dict[str, Any]:
    """OpenAI's `prompt_tokens_details` / `completion_tokens_details`, where there is something to say."""
    details: dict[str, Any] = {}
    if u.cached_tokens or u.cache_write_tokens:
        prompt = {"cached_tokens": u.cached_tokens}
        if u.cache_write_tokens:
            prompt["cache_write_tokens"] = u.cache_write_tokens
        details["prompt_tokens_details"] = prompt
    if u.reasoning_tokens:
        details["completion_tokens_details"] = {"reasoning_tokens": u.reasoning_tokens}
    return details


def usage_body(u: Usage | None) -> dict[str, Any] | None:
    """OpenAI's `usage` object (None when the engine reported no usage)."""
    if u is None:
        return None
    body: dict[str, Any] = {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                            "total_tokens": u.total_tokens}
    body.update(usage_details(u))
    return body


class ToolCallAssembler:
    """Joins streamed tool-call pieces into whole OpenAI `tool_calls`, in index order."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, Any]] = {}

    def __bool__(self) -> bool:
        return bool(self._calls)

    def add(self, deltas: tuple[ToolCallDelta, ...]) -> None:
        for d in deltas:
            call = self._calls.setdefault(d.index, {"id": None, "type": "function",
                                                    "function": {"name": "", "arguments": ""}})
            if d.id is not None:
                call["id"] = d.id
            if d.name is not None:
                call["function"]["name"] = d.name
            if d.extra:
                call["extra_content"] = dict(d.extra)
            call["function"]["arguments"] += d.arguments

    def result(self) -> list[dict[str, Any]]:
        return [self._calls[i] for i in sorted(self._calls)]


def engine_request(request: ChatCompletionRequest, entry: ModelEntry) -> dict[str, Any]:
    """The body sent to the engine: the client's fields plus the model's catalogue defaults."""
    body = request.model_dump(exclude_none=True, exclude={"stream", "stream_options"})
    body["model"] = entry.id
    # Defaults fill only what the client did not set: an explicit `stop` (even []) replaces them.
    defaults = entry.defaults
    if "stop" not in request.model_fields_set and defaults.stop:
        body["stop"] = list(defaults.stop)
    if defaults.temperature is not None and request.temperature is None:
        body["temperature"] = defaults.temperature
    if defaults.repetition_penalty is not None and "repetition_penalty" not in body:
        body["repetition_penalty"] = defaults.repetition_penalty
    if defaults.max_tokens is not None and request.output_limit() is None:
        body["max_tokens"] = defaults.max_tokens
    return body


@dataclass
class ChatRun:
    """One request's engine stream, with its first chunk already received."""

    entry: ModelEntry
    route: Route
    chunks: AsyncIterator[ChatChunk]
    metrics: RouterMetrics
    clock: Callable[[], float]
    started: float
    include_usage: bool
    dispatch: Dispatch | None = None
    span: Span = trace.INVALID_SPAN  # this attempt's trace span (router/tracing.py), ended by _finish
    id: str = field(default_factory=lambda: new_run_id())
    created: int = field(default_factory=lambda: int(time.time()))
    _first: list[ChatChunk] = field(default_factory=list)
    _usage: Usage | None = None
    _ttft_seen: bool = False
    _finish_reasons: list[str] = field(default_factory=list)
    # Set when the run ends (for the ledger): the HTTP-style status, the error type, seconds taken.
    status: int | None = None
    error_type: str | None = None
    latency_s: float | None = None

    @property
    def model_id(self) -> str:
        return self.entry.id

    @property
    def cost(self) -> float | None:
        """The request's cost, once the engine reported usage."""
        return None if self._usage is None else request_cost(self.entry, self._usage)

    def cost_body(self) -> dict[str, Any]:
        cost = self.cost
        return {"cost": None if cost is None else round(cost, 10), "currency": self.entry.pricing.currency}

    async def peek(self, timeout_s: float) -> None:
        """Wait for the first chunk; errors raised here still become an HTTP status."""
        self.metrics.in_flight.labels(_ENDPOINT, self.model_id).inc()
        try:
            async with asyncio.timeout(timeout_s):  # no extra task per request, unlike wait_for
                with engine_context(self.span):  # the engine starts its call here: it carries the span
                    first = await anext(self.chunks)
        except StopAsyncIteration:
            self._finish("502", "engine_error")
            raise EngineFailed(f"model {self.model_id!r} ended the answer before it began") from None
        except TimeoutError:
            self._finish("504", "upstream_timeout")
            await self._close()
            raise UpstreamTimeout(f"model {self.model_id!r} sent nothing for {timeout_s:g} s") from None
        except StellwerkError as exc:
            self._finish(str(exc.status_code), exc.error_type)
            raise
        except Exception:  # a bug in an engine: the app's handler answers a generic 500
            self._finish("500", InternalError.error_type)
            raise
        except BaseException:
            self._finish("499", "cancelled")
            raise
        self._first.append(first)

    async def complete(self) -> dict[str, Any]:
        """Collect the whole answer as an OpenAI `chat.completion` object."""
        text: list[str] = []
        reasoning: list[str] = []
        calls = ToolCallAssembler()
        finish_reason: str | None = None
        async with aclosing(self._all_chunks()) as chunks:
            async for chunk in chunks:
                text.append(chunk.text)
                reasoning.append(chunk.reasoning)
                calls.add(chunk.tool_calls)
                finish_reason = chunk.finish_reason or finish_reason
        message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
        if any(reasoning):
            message["reasoning_content"] = "".join(reasoning)
        if calls:
            message["tool_calls"] = calls.result()
        elif message["content"] is None:
            message["content"] = ""
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model_id,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": finish_reason or "stop"}],
            "usage": usage_body(self._usage),
            "stellwerk": self.cost_body(),
        }

    async def stream_events(self) -> AsyncGenerator[RunEvent, None]:
        """The answer as typed run events (`router.run_events`), for a dialect's formatter: started,
        the deltas, then done; a failure mid-stream becomes one `RunError` instead of done."""
        yield RunStarted(self.id, self.created, self.model_id)
        try:
            async with aclosing(self._all_chunks()) as chunks:
                async for chunk in chunks:
                    if chunk.text or chunk.finish_reason or chunk.tool_calls or chunk.reasoning:
                        yield Delta(chunk.text, chunk.reasoning, chunk.tool_calls, chunk.finish_reason)
        except StellwerkError as exc:
            yield RunError.of(exc)
            return
        except Exception:  # a bug in an engine: the headers are sent, so it can only be an event
            logger.exception("model %s failed mid-stream", self.model_id)
            yield RunError.of(InternalError("internal error in the Stellwerk router; see its log"))
            return
        finish = self._finish_reasons[-1] if self._finish_reasons else None
        yield RunDone(self._usage, self.cost, self.entry.pricing.currency, finish)

    async def _all_chunks(self) -> AsyncGenerator[ChatChunk, None]:
        status, error = "200", None
        try:
            for chunk in self._first:
                yield self._observe(chunk)
            async for chunk in self.chunks:
                yield self._observe(chunk)
        except StellwerkError as exc:
            status, error = str(exc.status_code), exc.error_type
            raise
        except Exception:
            status, error = "500", InternalError.error_type
            raise
        except (asyncio.CancelledError, GeneratorExit):
            status, error = "499", "cancelled"  # the client went away
            raise
        finally:
            await self._close()
            self._finish(status, error)

    def _observe(self, chunk: ChatChunk) -> ChatChunk:
        """Note usage and the first token; return the chunk with text that can be encoded."""
        chunk = clean_chunk(chunk)
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.finish_reason:
            self._finish_reasons.append(chunk.finish_reason)
        if (chunk.text or chunk.tool_calls) and not self._ttft_seen:
            self._ttft_seen = True
            self.metrics.ttft.labels(self.model_id).observe(self.clock() - self.started)
            if self.dispatch is not None:
                self.dispatch.first_token()
        return chunk

    async def _close(self) -> None:
        aclose = getattr(self.chunks, "aclose", None)
        if aclose is not None:
            await aclose()

    def expire(self) -> None:
        """The router's deadline for the whole answer ended the run: 504 for the ledger. (The deadline
        cancels the task, so the engine stream may already have settled as 499; metrics keep that.)"""
        if self.status is None or self.status == 499:
            self._finish("504", "stream_deadline")
            self.status, self.error_type = 504, "stream_deadline"

    async def aclose(self) -> None:
        """Stop the engine and settle the run (as cancelled) unless it already ended: safe to call
        whatever happened before, so the response can always call it last."""
        if self.status is not None:
            return
        try:
            await self._close()
        finally:
            self._finish("499", "cancelled")

    @property
    def usage(self) -> Usage | None:
        return self._usage

    def _finish(self, status: str, error: str | None) -> None:
        """Settle the gauge, the dispatch and the metrics: once, whichever way the run ends first."""
        if self.status is not None:
            return
        if self.dispatch is not None:
            self.dispatch.close()
        self.status, self.error_type = int(status), error
        self.latency_s = self.clock() - self.started
        u = self._usage
        end_engine_span(self.span, response_id=self.id, model=self.model_id, status=self.status, error=error,
                        usage=None if u is None else (u.prompt_tokens, u.completion_tokens),
                        finish_reasons=self._finish_reasons)
        m, model = self.metrics, self.model_id
        m.in_flight.labels(_ENDPOINT, model).dec()
        m.record_request(_ENDPOINT, model, self.status, self.latency_s, error)
        if self._usage is not None:
            m.tokens.labels(model, "prompt").inc(self._usage.prompt_tokens)
            m.tokens.labels(model, "completion").inc(self._usage.completion_tokens)
            m.cost.labels(model, self.entry.provider, self.entry.pricing.currency).inc(
                request_cost(self.entry, self._usage))
