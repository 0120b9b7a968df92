"""POST /v1/chat/completions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from router.chat.accounted import open_accounted, open_streamed, streamed_response
from router.chat.stream import OpenAIChatFormat
from router.cost import cost_headers
from router.schemas import ChatCompletionRequest
from router.tenancy.http import Caller

__all__ = ["router"]

router = APIRouter()
_ENDPOINT = "chat"


@router.post("/v1/chat/completions", response_model=None)
async def create_chat_completion(body: ChatCompletionRequest, request: Request, ctx: Caller) -> Response:
    if body.stream:
        opened = await open_streamed(request, ctx, body, _ENDPOINT)
        fmt = OpenAIChatFormat(include_usage=opened.run.include_usage)
        return streamed_response(request, opened, opened.run.stream_events(), fmt, opened.headers)
    opened = await open_accounted(request, ctx, body, _ENDPOINT)
    answer = await opened.complete()
    return JSONResponse(answer, headers={**opened.headers, **cost_headers(opened.run)})
