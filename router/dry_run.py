"""POST /v1/route: the routing decision for a chat request, without running it (a dry run)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request

from router.registry import AUTO
from router.schemas import ChatCompletionRequest
from router.services import AppServices
from router.tenancy.http import Caller, gate_chat, routing_hints

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/route")
async def explain_route(body: ChatCompletionRequest, request: Request, ctx: Caller,
                        svc: AppServices) -> dict[str, Any]:
    """The same decision `/v1/chat/completions` would take now for this caller, with features, every
    candidate's scores and why each was or was not eligible. Hysteresis state, counters and the
    caller's rate limits are left unchanged."""
    routing = svc.routing
    gate = gate_chat(svc.tenancy, ctx, body, admit=False)
    request_id = f"route-{uuid.uuid4().hex}"
    if body.model != AUTO:
        entry, _ = svc.registry.chat_engine(body.model)
        routing.check_allowed(entry, gate.policies)
        return {"id": request_id, "object": "stellwerk.route", "model": entry.id, "reason": "requested",
                "explanation": "the request names its model", "fallback_order": []}
    decision = await routing.decide(body, hints=routing_hints(request, ctx), request_id=request_id,
                                    policies=gate.policies, dry_run=True)
    return {"id": request_id, "object": "stellwerk.route", **decision.to_json()}
