"""The embeddings service behind `POST /v1/embeddings`: the caller's limits, screen and policies, the
model's engine, and one settlement however the engine call ends — the request's metrics (status,
latency, error type, prompt tokens) and its ledger row.

A request refused before the engine is called (unknown model, limits, policy) gets its ledger row and
no model metrics, like a refused chat request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from models.catalogue import ModelEntry
from router.metrics import RouterMetrics
from router.registry import ModelRegistry
from router.routing.service import RoutingService
from router.schemas import EmbeddingRequest
from router.tenancy.service import TenancyService, TenantContext
from serving.engine import EmbeddingEngine, EmbeddingResult
from serving.errors import InternalError, InvalidRequest, StellwerkError

__all__ = ["EMBEDDINGS_ENDPOINT", "Embeddings", "EmbeddingsService"]

EMBEDDINGS_ENDPOINT = "embeddings"  # the endpoint label of the metrics and the ledger
_CANCELLED = 499  # nginx's "client closed request", the status chat runs record for it too


@dataclass(frozen=True)
class Embeddings:
    """One answered embeddings request: the model that answered and the engine's result."""

    entry: ModelEntry
    result: EmbeddingResult


class EmbeddingsService:
    """Embeds a caller's inputs with the named model (see the module docstring)."""

    def __init__(self, registry: ModelRegistry, metrics: RouterMetrics, routing: RoutingService,
                 tenancy: TenancyService, *, clock: Callable[[], float] = time.perf_counter) -> None:
        self._registry = registry
        self._metrics = metrics
        self._routing = routing
        self._tenancy = tenancy
        self._clock = clock

    async def embed(self, ctx: TenantContext, body: EmbeddingRequest) -> Embeddings:
        """The vectors for `body.inputs()`; a refusal or failure is recorded and raised as it is."""
        try:
            entry, engine = self._admit(ctx, body)
        except StellwerkError as exc:
            self._tenancy.record_failure(ctx, body.model, exc, EMBEDDINGS_ENDPOINT)
            raise
        started = self._clock()
        try:
            result = await engine.embed(body.inputs())
        except StellwerkError as exc:
            self._settle(ctx, entry, started, exc.status_code, exc.error_type, ledger_error=exc.code)
            raise
        except Exception:  # a bug in an engine: counted, then the app's handler answers a generic 500
            self._count(entry, started, InternalError.status_code, InternalError.error_type)
            raise
        except BaseException:  # the client went away (cancelled): counted as chat runs count it
            self._count(entry, started, _CANCELLED, "cancelled")
            raise
        self._settle(ctx, entry, started, 200, None, prompt_tokens=result.prompt_tokens)
        return Embeddings(entry, result)

    def _admit(self, ctx: TenantContext, body: EmbeddingRequest) -> tuple[ModelEntry, EmbeddingEngine]:
        """The model and its engine, once the caller's limits, screen and policies allow the request."""
        entry, engine = self._registry.embedding_engine(body.model)
        if body.dimensions is not None:
            raise InvalidRequest(f"model {entry.id!r} does not support 'dimensions'", param="dimensions")
        self._tenancy.admit(ctx, sum(len(text) for text in body.inputs()) // 3 + 1)
        screening = self._tenancy.screen(ctx, body.inputs())
        self._routing.check_allowed(entry, self._tenancy.policies(ctx, screening))
        return entry, engine

    def _settle(self, ctx: TenantContext, entry: ModelEntry, started: float, status: int,
                error_type: str | None, *, prompt_tokens: int = 0, ledger_error: str | None = None) -> None:
        """The metrics and the ledger row of an engine call that answered or failed with our error."""
        self._count(entry, started, status, error_type, prompt_tokens)
        self._tenancy.record_embedding(ctx, entry, prompt_tokens, status,
                                       None if error_type is None else ledger_error or error_type)

    def _count(self, entry: ModelEntry, started: float, status: int, error_type: str | None,
               prompt_tokens: int = 0) -> None:
        self._metrics.record_request(EMBEDDINGS_ENDPOINT, entry.id, status, self._clock() - started,
                                     error_type, prompt_tokens)
