"""GET /v1/models, /health, /ready, /metrics."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from router.registry import AUTO, RegisteredModel
from router.services import AppServices, Services
from router.store.sync_health import SyncHealth, shared_state_report
from router.tenancy.console_session import actor_of as console_actor
from router.tenancy.http import Caller
from serving.engine import ChatEngine, EmbeddingEngine
from serving.errors import StellwerkError

__all__ = ["router"]

router = APIRouter()
_HEALTH_TIMEOUT_S = 5.0
_CREATED = 1_767_225_600  # 2026-01-01: catalogue entries have no creation time of their own


@router.get("/v1/models")
async def list_models(svc: AppServices, _: Caller, all: bool = False) -> JSONResponse:
    """Servable models (OpenAI format); `?all=true` adds unavailable entries with the reason."""
    registry = svc.registry
    models = registry.all() if all else registry.servable()
    data = [_auto_card()] if registry.chat_candidates() else []
    data += [_model_card(m, m in registry.servable()) for m in models]
    return JSONResponse({"object": "list", "data": data})


@router.get("/health")
async def health() -> JSONResponse:
    """Liveness: the router process answers."""
    return JSONResponse({"status": "ok"})


@router.get("/ready")
async def ready(svc: AppServices) -> JSONResponse:
    """Readiness: every servable model's engine passes its health check."""
    models = await _model_health(svc)
    is_ready = bool(models) and all(r == "ok" for r in models.values())
    return JSONResponse({"status": "ready" if is_ready else "not_ready", "models": models},
                        status_code=200 if is_ready else 503)


@router.get("/status")
async def status(request: Request, svc: AppServices) -> JSONResponse:
    """For a load balancer: `status`, `ready` and `version`. With the admin key (or on an open-access
    router without one): also deployments, per-model health, the latest telemetry sample (each chat
    engine's queue and the GPUs), routing, tenancy and `shared_state` (whether the cluster-wide state
    reaches the database, and what the router does while it does not) — what `stellwerk status` prints."""
    models = await _model_health(svc)
    ready = bool(models) and all(r == "ok" for r in models.values())
    public = {"status": "ready" if ready else "not_ready", "ready": ready, "version": request.app.version}
    if not _may_see_details(request, svc):
        return JSONResponse(public)
    return JSONResponse({**public, "models": models, **svc.status_provider(),
                         **svc.telemetry.latest.to_json(), "routing": svc.routing.status(),
                         "tenancy": svc.tenancy.status(),
                         "shared_state": shared_state_report(_shared_state(svc))})


def _shared_state(svc: Services) -> list[SyncHealth]:
    """The cluster-wide state's reachability: routing state (breakers, spillover) and rate limits."""
    healths = [svc.shared_routing.sync_health, svc.tenancy.limiter.sync_health]
    return [h for h in healths if h is not None]


def _may_see_details(request: Request, svc: Services) -> bool:
    """Tenant names, file paths, the database and the ban list are for the operator: the admin key
    shows them; a router without one shows them only when it has no keys at all (open access)."""
    expected = svc.admin_key
    if not expected:
        return svc.tenancy.tenants.current.auth == "off"
    if console_actor(request.cookies, request.headers, request.method, expected) is not None:
        return True  # the operator console, logged in with the admin key
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


async def _model_health(svc: Services) -> dict[str, str]:
    servable = svc.registry.servable()
    results = await asyncio.gather(*(_check(svc.registry.engine(m.entry.id)) for m in servable))
    return {m.entry.id: r for m, r in zip(servable, results, strict=True)}


@router.get("/metrics")
async def metrics(svc: AppServices) -> Response:
    return Response(svc.metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def _check(engine: ChatEngine | EmbeddingEngine) -> str:
    try:
        await asyncio.wait_for(engine.check_health(), timeout=_HEALTH_TIMEOUT_S)
    except StellwerkError as exc:
        return exc.message
    except TimeoutError:
        return f"health check timed out after {_HEALTH_TIMEOUT_S:g} s"
    return "ok"


def _auto_card() -> dict[str, Any]:
    return {"id": AUTO, "object": "model", "created": _CREATED, "owned_by": "stellwerk",
            "stellwerk": {"kind": "router", "available": True,
                          "description": "Stellwerk chooses the model per request"}}


def _model_card(model: RegisteredModel, servable: bool) -> dict[str, Any]:
    e = model.entry
    return {
        "id": e.id, "object": "model", "created": _CREATED, "owned_by": e.provider,
        "stellwerk": {
            "kind": e.kind, "task": e.task, "aliases": e.aliases, "available": servable,
            "reason": None if servable else (model.availability.reason or "not deployed"),
            "context_length": e.capabilities.context_length,
            "pricing": e.pricing.model_dump(mode="json"),
            "residency": e.residency.model_dump(),
        },
    }
