"""POST /v1/messages: the Anthropic Messages API, answered by any Stellwerk model."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from router.anthropic.schemas import MessagesRequest
from router.anthropic.stream import message_id, to_anthropic_events, to_anthropic_message
from router.anthropic.translate import to_openai_request
from router.cancellation import cancel_on_disconnect
from router.chat.routes import cost_headers, objective_of, route_headers
from router.chat.service import ChatService
from router.http import validation_error
from router.schemas import ChatCompletionRequest
from router.sse import named_sse_stream
from router.tenancy.http import Caller, gate_chat
from router.tenancy.service import TenancyService
from serving.errors import StellwerkError

__all__ = ["router"]

router = APIRouter()
_ENDPOINT = "messages"


@router.post("/v1/messages", response_model=None)
async def create_message(body: MessagesRequest, request: Request,
                         ctx: Caller) -> Response:
    service: ChatService = request.app.state.chat_service
    tenancy: TenancyService = request.app.state.tenancy
    openai_body = to_openai_request(body)
    if body.stream:
        openai_body["stream_options"] = {"include_usage": True}
    try:
        chat_request = ChatCompletionRequest.model_validate(openai_body)
    except ValueError as exc:  # pydantic.ValidationError: the translated request is invalid
        raise validation_error(getattr(exc, "errors", list)()) from None
    try:
        gate = gate_chat(tenancy, ctx, chat_request)
        run = await cancel_on_disconnect(request, service.open(
            chat_request, objective=objective_of(request, ctx), policies=gate.policies))
    except StellwerkError as exc:
        tenancy.record_failure(ctx, chat_request.model, exc, _ENDPOINT)
        raise
    headers = {**route_headers(run), **gate.screening.headers()}
    msg_id = message_id()
    if body.stream:
        events = to_anthropic_events(run.stream_events(), run.model_id, msg_id)
        accounted = tenancy.accounted(ctx, run, _ENDPOINT, events)
        return StreamingResponse(named_sse_stream(accounted), media_type="text/event-stream",
                                 headers={**headers, "cache-control": "no-cache"})
    try:
        completion = await cancel_on_disconnect(request, run.complete())
    except BaseException:
        tenancy.record_run_nowait(ctx, run, _ENDPOINT)
        raise
    await tenancy.record_run(ctx, run, _ENDPOINT)
    message = {**to_anthropic_message(completion, msg_id), "stellwerk": completion["stellwerk"]}
    return JSONResponse(message, headers={**headers, **cost_headers(run)})
