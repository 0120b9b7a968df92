"""`EdgeGuard`: what every request meets before a route reads it, as one ASGI middleware.

1. API routes (`/v1/...`) authenticate from the headers alone, so an unauthenticated client cannot make
   the router read (and parse) its body: 401, recorded in the ledger.
2. The body is read with a size limit (413, also for a `Content-Length` over it, before reading) and a
   time limit (408): a client that drips its body does not hold a worker's memory for long.
3. A JSON body with a lone UTF-16 surrogate escape (`"\\ud800"`) is refused with a 400 naming the
   field: such text cannot be encoded, tokenized or forwarded.
4. An unexpected exception is answered with a generic 500 and not re-raised: uvicorn closes a
   keep-alive connection whose application raised, so the client's next request would be reset.

Refusals are recorded in the ledger (status, error code; no prompt text).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from router.chat.text import clean_text, lone_surrogate_path
from router.http import endpoint_of, error_response
from router.store import StoreError
from router.tenancy.http import CALLER_STATE, authenticate_traced
from router.tenancy.service import TenancyService, TenantContext, unauthenticated
from serving.errors import (
    InternalError,
    InvalidRequest,
    RequestTimeout,
    RequestTooLarge,
    StellwerkError,
)

__all__ = ["DEFAULT_BODY_TIMEOUT_S", "DEFAULT_MAX_BODY_BYTES", "EdgeGuard", "EdgeLimits"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024  # long prompts and a few images; Anthropic allows 32 MB
DEFAULT_BODY_TIMEOUT_S = 30.0

_API_PREFIX = "/v1/"
_INTERNAL = InternalError("internal error in the Stellwerk router; see its log")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class EdgeLimits:
    """Bounds on one request's body: its size and the time to receive it."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S


class _ClientGone(Exception):
    pass


class EdgeGuard:
    """See the module docstring."""

    def __init__(self, app: ASGIApp, *, limits: EdgeLimits, tenancy: TenancyService) -> None:
        self._app = app
        self._limits = limits
        self._tenancy = tenancy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._guarded(scope, receive, tracking_send)
        except Exception:
            logger.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _respond(scope, send, _INTERNAL)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if path.startswith(_API_PREFIX):
            try:
                ctx = authenticate_traced(self._tenancy, Headers(scope=scope))
                scope.setdefault("state", {})[CALLER_STATE] = ctx
            except StellwerkError as exc:
                self._record(scope, exc)
                await _respond(scope, send, exc)
                return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self._app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
            _check_text(body)
        except _ClientGone:
            return
        except StellwerkError as exc:
            self._record(scope, exc)
            await _respond(scope, send, exc)
            return
        await self._app(scope, _replay(body, receive), send)

    def _record(self, scope: Scope, error: StellwerkError) -> None:
        """The refusal's ledger row (401s included, as the unauthenticated tenant)."""
        ctx = scope.get("state", {}).get(CALLER_STATE)
        try:
            self._tenancy.record_failure(ctx if isinstance(ctx, TenantContext) else unauthenticated(),
                                         "", error, endpoint_of(scope.get("path", "")))
        except StoreError as exc:  # the ledger is closed or full: the refusal still goes out
            logger.warning("ledger: refusal not recorded (%s)", exc)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self._limits.max_body_bytes
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        parts: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self._limits.body_timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise _ClientGone()
                    part = message.get("body", b"")
                    size += len(part)
                    if size > limit:
                        raise _too_large(limit)
                    parts.append(part)
                    if not message.get("more_body", False):
                        return b"".join(parts)
        except TimeoutError:
            raise RequestTimeout(
                f"the request body did not arrive within {self._limits.body_timeout_s:g} s") from None


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"the request body is larger than this router's limit of {limit} bytes")


def _check_text(body: bytes) -> None:
    """400 for a JSON body with a lone surrogate, naming the field (a cheap byte scan first)."""
    if _SURROGATE_ESCAPE.search(body) is None:
        return
    try:
        value = json.loads(body)
    except ValueError:
        return  # not JSON: the route says so
    where = lone_surrogate_path(value)
    if where is not None:
        field = clean_text(".".join(where)) or "body"  # a key may hold the surrogate itself
        raise InvalidRequest(f"{field}: the text contains a lone UTF-16 surrogate (an unpaired "
                             "\\uD800-\\uDFFF escape), which is not valid Unicode; send the whole character",
                             param=field)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # then disconnects, as the server reports them

    return replay



async def _respond(scope: Scope, send: Send, error: StellwerkError) -> None:
    response = error_response(error, anthropic=scope.get("path", "").startswith("/v1/messages"))
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
