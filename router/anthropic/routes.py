"""POST /v1/messages: the Anthropic Messages API, answered by any Stellwerk model."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from router.anthropic.schemas import MessagesRequest
from router.anthropic.stream import AnthropicFormat, message_id, to_anthropic_message
from router.anthropic.translate import to_openai_request
from router.chat.accounted import open_accounted, open_streamed, streamed_response
from router.cost import cost_headers
from router.http import validation_error
from router.schemas import ChatCompletionRequest
from router.tenancy.http import Caller

__all__ = ["router"]

router = APIRouter()
_ENDPOINT = "messages"


@router.post("/v1/messages", response_model=None)
async def create_message(body: MessagesRequest, request: Request, ctx: Caller) -> Response:
    openai_body = to_openai_request(body)
    try:
        chat_request = ChatCompletionRequest.model_validate(openai_body)
    except ValueError as exc:  # pydantic.ValidationError: the translated request is invalid
        raise validation_error(getattr(exc, "errors", list)()) from None
    msg_id = message_id()
    if body.stream:
        opened = await open_streamed(request, ctx, chat_request, _ENDPOINT)
        return streamed_response(request, opened, opened.run.stream_events(), AnthropicFormat(msg_id),
                                 opened.headers)
    opened = await open_accounted(request, ctx, chat_request, _ENDPOINT)
    completion = await opened.complete()
    message = to_anthropic_message(completion, msg_id, opened.run.usage)
    message["stellwerk"] = completion["stellwerk"]
    return JSONResponse(message, headers={**opened.headers, **cost_headers(opened.run)})
