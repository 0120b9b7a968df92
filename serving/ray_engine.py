"""`ChatEngine` and `EmbeddingEngine` for models served by Ray Serve, called through deployment handles.

The router calls replicas through Serve's `DeploymentHandle` (one Ray RPC per chunk batch) instead of
a second HTTP hop through Serve's proxy: on a 2-core machine every extra process on the path costs
engine throughput. Closing the chunk iterator cancels the Serve request, which aborts it in vLLM.

The replica streams typed deltas (`serving.replica_stream`): `ChatChunk`s, read by the same OpenAI-chunk
parser as the remote providers' (in the replica), or a `ReplicaError` that ends the stream; no SSE
text is stripped or JSON parsed here. The current W3C trace context goes with the call, so the
replica's span and vLLM's join the router's trace (`serving.replica_tracing`).

Only Ray's and Serve's own exceptions (a replica died, the controller is gone, back pressure) become
`EngineUnavailable`/`EngineFailed`; anything else the replica sends that is not a delta is a bug of ours
(a 500), never a "retry shortly" 503 that would trip the model's health breaker.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol

from serving.engine import ChatChunk, EmbeddingResult, EngineStats
from serving.errors import (
    ContextLengthExceeded,
    EngineFailed,
    EngineUnavailable,
    InvalidRequest,
    StellwerkError,
)
from serving.openai_chunk import chunk_of
from serving.replica_stream import Delta, ReplicaError
from serving.replica_tracing import current_trace_headers

__all__ = ["HandleProvider", "RayChatEngine", "RayEmbeddingEngine", "ReplicaCounter", "chunk_from_openai"]

logger = logging.getLogger(__name__)


class HandleProvider(Protocol):
    """Returns a Serve `DeploymentHandle` for an application, raising `EngineUnavailable` if absent."""

    def __call__(self, app_name: str) -> Any: ...


ReplicaCounter = Callable[[str], int]
"""Returns how many replicas of a Serve application are RUNNING."""


def _one_replica(_: str) -> int:
    return 1


class RayChatEngine:
    """A chat model deployed as a `StellwerkLLMServer` Serve application."""

    def __init__(self, model_id: str, app_name: str, handles: HandleProvider, context_length: int,
                 replicas: ReplicaCounter = _one_replica) -> None:
        self.model_id = model_id
        self._app = app_name
        self._handles = handles
        self._context_length = context_length
        self._replicas = replicas

    async def chat(self, request: Mapping[str, Any]) -> AsyncIterator[ChatChunk]:
        if request.get("thinking") is not None:  # vLLM would ignore it: refuse rather than drop it
            raise InvalidRequest("local models take no Anthropic-style `thinking` budget; use "
                                 "reasoning_effort, or chat_template_kwargs for models that think",
                                 param="thinking")
        body = {**request, "model": self.model_id, "stream": True,
                "stream_options": {"include_usage": True}}
        handle = self._handles(self._app)
        try:
            responses = handle.options(stream=True).chat_deltas.remote(body, current_trace_headers() or None)
        except Exception as exc:  # e.g. the handle's controller or router is gone
            if not is_ray_error(exc):
                raise
            raise _ray_failure(self.model_id, exc) from exc
        finished = False
        try:
            async for batch in _batches(responses, self.model_id):
                for item in batch:
                    yield _chunk(item, self._context_length)
            finished = True
        finally:
            if not finished:
                # NOTE: the client went away or we failed mid-stream: cancel the Serve request so the
                # replica's generator is closed and vLLM aborts the sequence.
                responses.cancel()

    async def check_health(self) -> None:
        await _check_health(self._handles, self._app, self.model_id)

    async def stats(self) -> EngineStats:
        """The queue of the replica Serve routes this call to (with one replica, the whole queue)
        and the application's RUNNING replica count."""
        handle = self._handles(self._app)
        try:
            raw = await handle.engine_stats.remote()
        except Exception as exc:
            if not is_ray_error(exc):
                raise
            raise _ray_failure(self.model_id, exc) from exc
        usage = raw.get("kv_cache_usage")
        running = raw["running"] if "running" in raw else raw["unfinished"]  # older replicas: unfinished
        return EngineStats(running=int(running),
                           waiting=int(raw.get("waiting") or 0), replicas=self._replicas(self._app),
                           kv_cache_usage=None if usage is None else float(usage))


class RayEmbeddingEngine:
    """An embedding model deployed as `serving.embedding_server.EmbeddingServer`."""

    def __init__(self, model_id: str, app_name: str, handles: HandleProvider) -> None:
        self.model_id = model_id
        self._app = app_name
        self._handles = handles

    async def embed(self, inputs: list[str]) -> EmbeddingResult:
        handle = self._handles(self._app)
        try:
            raw = await handle.embed.remote(inputs)
        except Exception as exc:
            if not is_ray_error(exc):
                raise
            raise _ray_failure(self.model_id, exc) from exc
        return EmbeddingResult(vectors=raw["vectors"], prompt_tokens=int(raw["prompt_tokens"]))

    async def check_health(self) -> None:
        await _check_health(self._handles, self._app, self.model_id)


async def _check_health(handles: HandleProvider, app: str, model_id: str) -> None:
    """The replica's own health check (both deployment kinds expose `check_health`)."""
    handle = handles(app)
    try:
        await handle.check_health.remote()
    except Exception as exc:
        if not is_ray_error(exc):
            raise
        raise _ray_failure(model_id, exc) from exc


def is_ray_error(exc: BaseException) -> bool:
    """Whether Ray or Serve raised `exc` (a failure of the cluster, not of our code): by the module of
    its classes, so neither has to be imported here (`ray.serve` is heavy and not always loaded)."""
    return any(cls.__module__.partition(".")[0] == "ray" for cls in type(exc).__mro__)


async def _batches(responses: Any, model_id: str) -> AsyncIterator[Any]:
    """The Serve stream's batches; a Ray failure while waiting for one becomes our error."""
    while True:
        try:
            batch = await anext(responses)
        except StopAsyncIteration:
            return
        except Exception as exc:  # Ray surfaces replica deaths and RPC failures as many types
            if not is_ray_error(exc):
                raise
            raise _ray_failure(model_id, exc) from exc
        yield batch


def _chunk(item: Delta, context_length: int) -> ChatChunk:
    if isinstance(item, ChatChunk):
        return item
    if isinstance(item, ReplicaError):
        raise engine_error({"message": item.message, "code": item.code}, context_length)
    raise TypeError(f"a chat replica sent {type(item).__name__}, not a delta")


def chunk_from_openai(payload: Mapping[str, Any]) -> list[ChatChunk]:
    """Typed chunks (text, tool-call pieces, finish reason, usage) from one `chat.completion.chunk`."""
    chunk = chunk_of(payload)
    return [] if chunk is None else [chunk]


def engine_error(error: Any, context_length: int) -> StellwerkError:
    """Map a vLLM error object ({message, type, code}) into our error tree."""
    if not isinstance(error, Mapping):
        error = {"message": str(error)}
    message = str(error.get("message") or "the engine reported an error")
    code = error.get("code")
    status = code if isinstance(code, int) else 500
    if status == 400 and _is_context_error(message):
        return ContextLengthExceeded(
            f"{message} (this model's context is {context_length} tokens: prompt + max_tokens must fit)",
            param="messages")
    if 400 <= status < 500:
        return InvalidRequest(message)
    if status == 503:
        return EngineUnavailable(message)
    return EngineFailed(f"the engine failed: {message}")


_CONTEXT_MARKERS = ("maximum context length", "max_model_len", "context length", "too long",
                    "maximum input length", "exceeds")


def _is_context_error(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in _CONTEXT_MARKERS)


def _ray_failure(model_id: str, exc: BaseException) -> StellwerkError:
    """A replica that raised answers 502 (retrying will not help); one that is gone or not
    reachable answers 503 (retry shortly)."""
    logger.warning("engine %s failed: %s: %s", model_id, type(exc).__name__, exc)
    if _is_task_error(exc) or isinstance(exc, ValueError):
        return EngineFailed(f"model {model_id!r} failed on this request ({type(exc).__name__})")
    return EngineUnavailable(f"model {model_id!r} is not reachable right now ({type(exc).__name__}); "
                             "retry shortly")


def _is_task_error(exc: BaseException) -> bool:
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayTaskError

    return isinstance(exc, RayTaskError) and not isinstance(exc, ActorDiedError | ActorUnavailableError)


