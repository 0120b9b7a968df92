"""POST /v1/chat/completions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from router.cancellation import cancel_on_disconnect
from router.chat.service import ChatRun, ChatService
from router.schemas import ChatCompletionRequest
from router.sse import sse_stream
from router.tenancy.http import Caller, gate_chat
from router.tenancy.service import TenancyService, TenantContext
from serving.errors import StellwerkError

__all__ = ["OBJECTIVE_HEADER", "cost_headers", "objective_of", "route_headers", "router"]

OBJECTIVE_HEADER = "x-stellwerk-objective"
_ENDPOINT = "chat"

router = APIRouter()


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(body: ChatCompletionRequest, request: Request,
                                 ctx: Caller) -> Response:
    service: ChatService = request.app.state.chat_service
    tenancy: TenancyService = request.app.state.tenancy
    try:
        gate = gate_chat(tenancy, ctx, body)
        run = await cancel_on_disconnect(request, service.open(
            body, objective=objective_of(request, ctx), policies=gate.policies))
    except StellwerkError as exc:
        tenancy.record_failure(ctx, body.model, exc, _ENDPOINT)
        raise
    headers = {**route_headers(run), **gate.screening.headers()}
    if body.stream:
        events = tenancy.accounted(ctx, run, _ENDPOINT, run.stream_events())
        return StreamingResponse(sse_stream(events), media_type="text/event-stream",
                                 headers={**headers, "cache-control": "no-cache"})
    try:
        answer = await cancel_on_disconnect(request, run.complete())
    except BaseException:
        tenancy.record_run_nowait(ctx, run, _ENDPOINT)
        raise
    await tenancy.record_run(ctx, run, _ENDPOINT)
    return JSONResponse(answer, headers={**headers, **cost_headers(run)})


def objective_of(request: Request, ctx: TenantContext) -> str | None:
    """The request's routing objective: its header, else the tenant's default, else the router's."""
    return request.headers.get(OBJECTIVE_HEADER) or ctx.config.default_objective


def route_headers(run: ChatRun) -> dict[str, str]:
    """Which model answers and why (`x-stellwerk-route` is the decision's reason code)."""
    return {"x-stellwerk-model": run.model_id, **run.route.headers()}


def cost_headers(run: ChatRun) -> dict[str, str]:
    """The finished run's cost, for answers whose headers go out after the engine is done."""
    if run.cost is None:
        return {}
    return {"x-stellwerk-cost": f"{run.cost:.10f}".rstrip("0").rstrip(".") or "0",
            "x-stellwerk-cost-currency": run.entry.pricing.currency}
