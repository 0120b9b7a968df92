"""POST /v1/responses: the OpenAI Responses API, answered by any Stellwerk model (like /v1/messages)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from router.chat.accounted import open_accounted
from router.chat.routes import cost_headers
from router.http import validation_error
from router.responses.schemas import ResponsesRequest
from router.responses.stream import ResponseBuilder, response_id, to_response_events, to_response_object
from router.responses.translate import to_chat_request
from router.schemas import ChatCompletionRequest
from router.sse import named_sse_stream
from router.tenancy.http import Caller

__all__ = ["router"]

router = APIRouter()
_ENDPOINT = "responses"


@router.post("/v1/responses", response_model=None)
async def create_response(body: ResponsesRequest, request: Request, ctx: Caller) -> Response:
    chat_body = to_chat_request(body)
    if body.stream:
        chat_body["stream_options"] = {"include_usage": True}
    try:
        chat_request = ChatCompletionRequest.model_validate(chat_body)
    except ValueError as exc:  # pydantic.ValidationError: the translated request is invalid
        raise validation_error(getattr(exc, "errors", list)()) from None
    opened = await open_accounted(request, ctx, chat_request, _ENDPOINT)
    builder = ResponseBuilder(body, opened.run.model_id, response_id())
    if body.stream:
        events = to_response_events(opened.run.stream_events(), builder)
        return StreamingResponse(named_sse_stream(opened.stream(events)), media_type="text/event-stream",
                                 headers={**opened.headers, "cache-control": "no-cache"})
    completion = await opened.complete()
    answer = {**to_response_object(completion, builder), "stellwerk": completion["stellwerk"]}
    return JSONResponse(answer, headers={**opened.headers, **cost_headers(opened.run)})
