"""POST /v1/responses: the OpenAI Responses API, answered by any Stellwerk model (like /v1/messages)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from router.chat.accounted import open_accounted, open_streamed, streamed_response
from router.cost import cost_headers
from router.http import validation_error
from router.responses.schemas import ResponsesRequest
from router.responses.stream import ResponseBuilder, ResponsesFormat, response_id, to_response_object
from router.responses.translate import to_chat_request
from router.schemas import ChatCompletionRequest
from router.services import AppServices
from router.store.responses import ResponseStore
from router.tenancy.http import Caller
from serving.errors import InvalidRequest

__all__ = ["router"]

router = APIRouter()
_ENDPOINT = "responses"


@router.post("/v1/responses", response_model=None)
async def create_response(body: ResponsesRequest, request: Request, ctx: Caller,
                          svc: AppServices) -> Response:
    store = svc.response_store
    history = await _history(store, ctx.tenant, body.previous_response_id)
    chat_body = to_chat_request(body, history)
    try:
        chat_request = ChatCompletionRequest.model_validate(chat_body)
    except ValueError as exc:  # pydantic.ValidationError: the translated request is invalid
        raise validation_error(getattr(exc, "errors", list)()) from None
    opened = await (open_streamed if body.stream else open_accounted)(request, ctx, chat_request, _ENDPOINT)
    builder = ResponseBuilder(body, opened.run.model_id, response_id())
    builder.stored = store is not None and body.store is not False
    asked = chat_body["messages"][1 if body.instructions else 0:]  # instructions are not carried over

    async def keep() -> None:
        if builder.stored and not builder.failed and store is not None:
            await store.save(ctx.tenant, builder.id, builder.model, [*asked, builder.assistant_message()])

    if body.stream:
        return streamed_response(request, opened, _then(opened.run.stream_events(), keep),
                                 ResponsesFormat(builder), {**opened.headers, "cache-control": "no-cache"})
    completion = await opened.complete()
    answer = to_response_object(completion, builder, opened.run.usage)
    answer["stellwerk"] = completion["stellwerk"]
    await keep()
    return JSONResponse(answer, headers={**opened.headers, **cost_headers(opened.run)})


async def _history(store: ResponseStore | None, tenant: str,
                   previous: str | None) -> list[dict[str, Any]] | None:
    if previous is None or store is None:
        return None
    history = await store.load(tenant, previous)
    if history is None:  # unknown, or another tenant's: the same answer, so ids cannot be probed
        raise InvalidRequest(f"Previous response with id {previous!r} not found.",
                             param="previous_response_id")
    return history


async def _then(events: AsyncGenerator[Any, None],
                after: Callable[[], Awaitable[None]]) -> AsyncGenerator[Any, None]:
    """`events`, then `after()` once they all went out (the answer is stored before the stream ends)."""
    async with aclosing(events):
        async for event in events:
            yield event
    await after()
