"""POST /v1/chat/completions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from router.cancellation import cancel_on_disconnect
from router.chat.service import ChatRun, ChatService
from router.schemas import ChatCompletionRequest
from router.sse import sse_stream

__all__ = ["OBJECTIVE_HEADER", "cost_headers", "route_headers", "router"]

OBJECTIVE_HEADER = "x-stellwerk-objective"

router = APIRouter()


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(body: ChatCompletionRequest, request: Request) -> Response:
    service: ChatService = request.app.state.chat_service
    run = await cancel_on_disconnect(
        request, service.open(body, objective=request.headers.get(OBJECTIVE_HEADER)))
    headers = route_headers(run)
    if body.stream:
        return StreamingResponse(sse_stream(run.stream_events()), media_type="text/event-stream",
                                 headers={**headers, "cache-control": "no-cache"})
    answer = await cancel_on_disconnect(request, run.complete())
    return JSONResponse(answer, headers={**headers, **cost_headers(run)})


def route_headers(run: ChatRun) -> dict[str, str]:
    """Which model answers and why (`x-stellwerk-route` is the decision's reason code)."""
    return {"x-stellwerk-model": run.model_id, **run.route.headers()}


def cost_headers(run: ChatRun) -> dict[str, str]:
    """The finished run's cost, for answers whose headers go out after the engine is done."""
    if run.cost is None:
        return {}
    return {"x-stellwerk-cost": f"{run.cost:.10f}".rstrip("0").rstrip(".") or "0",
            "x-stellwerk-cost-currency": run.entry.pricing.currency}
