"""`create_app`: the OpenAI-compatible HTTP front end, built from injected parts (no globals)."""

from __future__ import annotations

import asyncio
import inspect
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from cluster.telemetry import TelemetrySampler
from router.anthropic.routes import router as anthropic_router
from router.chat.accounted import StreamSettings
from router.chat.routes import router as chat_router
from router.chat.service import DEFAULT_FIRST_CHUNK_TIMEOUT_S, ChatService
from router.console.routes import router as console_router
from router.dry_run import router as routing_router
from router.edge import EdgeGuard, EdgeLimits
from router.embeddings import router as embeddings_router
from router.embeddings_service import EmbeddingsService
from router.http import install_error_handlers
from router.metrics import RouterMetrics
from router.observe import observe
from router.openapi import install_openapi
from router.registry import ModelRegistry
from router.responses.routes import router as responses_router
from router.routing.build import default_routing
from router.routing.service import RoutingService
from router.routing.shared_state import SharedRoutingState
from router.services import Services
from router.store import Database
from router.store.responses import ResponseStore
from router.system_routes import router as system_router
from router.tenancy.http import SERVICES_STATE
from router.tenancy.routes import router as tenancy_router
from router.tenancy.service import TenancyService
from router.tracing import Tracing, TracingMiddleware

__all__ = ["create_app"]


def create_app(
    registry: ModelRegistry,
    *,
    metrics: RouterMetrics | None = None,
    first_chunk_timeout_s: float = DEFAULT_FIRST_CHUNK_TIMEOUT_S,
    on_shutdown: Callable[[], object] | None = None,
    status_provider: Callable[[], dict[str, Any]] | None = None,
    telemetry: TelemetrySampler | None = None,
    routing: Callable[[TelemetrySampler, RouterMetrics], RoutingService] | None = None,
    tenancy: TenancyService | None = None,
    admin_key: str | None = None,
    tracing: Tracing | None = None,
    streams: StreamSettings | None = None,
    limits: EdgeLimits | None = None,
    response_store: ResponseStore | None = None,
) -> FastAPI:
    """The router app, answering with the models of `registry` (and their engines). Its parts are kept
    in one `router.services.Services`, which the routes read.

    `telemetry` samples the chat engines' load (and GPUs) while the app runs; by default every chat
    engine, without GPUs. Its snapshot feeds `/status`, the load gauges of `/metrics` and routing.
    `routing` builds the routing service from the sampler and metrics; by default the shipped routing
    configuration, quality table and request classifier (see `router.routing.build`).
    `tenancy` authenticates callers, applies their policies, limits and budgets, the ban list and the
    cost ledger; by default open access (no keys) with a ledger in a throwaway SQLite file. `admin_key`
    enables the admin API. `tracing` (off by default) traces every API request (see `router.tracing`).
    `streams` bounds streamed answers (per-tenant cap, deadline, write timeout);
    `limits` bounds requests at the edge (body size, body read time), see `router.edge`.
    `response_store` keeps Responses API answers for `previous_response_id`
    (without one, that parameter is refused).
    """
    metrics = metrics or RouterMetrics()
    telemetry = telemetry or TelemetrySampler(registry.chat_engines())

    routing_service = (routing or default_routing(registry))(telemetry, metrics)
    tenancy_service = tenancy or TenancyService.open_access(
        Database.open(None, default_path=Path(tempfile.mkdtemp(prefix="stellwerk-")) / "ledger.db"))
    observe(metrics, registry, routing_service, tenancy_service)
    # Breakers and spillover shared with every router on the same database (router.routing.shared_state).
    shared_routing = SharedRoutingState(tenancy_service.db, routing_service.health, routing_service.spillover)
    metrics.watch_shared_state(lambda: [h for h in (shared_routing.sync_health,
                                                    tenancy_service.limiter.sync_health) if h is not None])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        telemetry.start(metrics.record_telemetry)
        routing_service.config.start()
        tenancy_service.start()
        shared_routing.start()
        try:
            yield
        finally:
            await shared_routing.stop()
            await routing_service.config.stop()
            await telemetry.stop()
            routing_service.close()
            await tenancy_service.close()
            if tracing is not None:
                await asyncio.to_thread(tracing.shutdown)  # flushes the spans still queued
        if on_shutdown is not None:
            result = on_shutdown()
            if inspect.isawaitable(result):
                await result

    app = FastAPI(title="Stellwerk", version="0.1.0", lifespan=lifespan,
                  description="OpenAI-compatible router in front of Ray Serve + vLLM and remote APIs.")
    setattr(app.state, SERVICES_STATE, Services(
        registry=registry, metrics=metrics, telemetry=telemetry, routing=routing_service,
        shared_routing=shared_routing, tenancy=tenancy_service,
        chat=ChatService(registry, metrics, routing_service, first_chunk_timeout_s=first_chunk_timeout_s),
        embeddings=EmbeddingsService(registry, metrics, routing_service, tenancy_service),
        streams=streams or StreamSettings(), status_provider=status_provider or (lambda: {"deployments": {}}),
        admin_key=admin_key, response_store=response_store))
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(EdgeGuard, limits=limits or EdgeLimits(), tenancy=tenancy_service)
    if tracing is not None:  # NOTE: outermost, so the edge's authentication and refusals are traced
        app.add_middleware(TracingMiddleware, tracing=tracing)
    for router in (chat_router, anthropic_router, responses_router, embeddings_router, routing_router,
                   tenancy_router, system_router, console_router):
        app.include_router(router)
    return app
