"""Map errors to HTTP in one place: OpenAI-shaped JSON bodies, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from router.services import services
from serving.errors import InvalidRequest, StellwerkError, error_body

__all__ = ["anthropic_error_type", "endpoint_of", "error_response", "install_error_handlers"]

logger = logging.getLogger(__name__)

# Anthropic's documented error types by status (its errors page and its SDKs' `ErrorType`: a gateway
# timeout is `timeout_error`); used for error responses and for errors in the middle of a stream alike.
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 503: "overloaded_error",
    504: "timeout_error", 529: "overloaded_error"}
_ENDPOINTS = {"/v1/chat/completions": "chat", "/v1/messages": "messages", "/v1/embeddings": "embeddings",
              "/v1/route": "route"}


def error_response(error: StellwerkError, *, anthropic: bool = False) -> JSONResponse:
    """The error as JSON: OpenAI's shape, or Anthropic's for the Messages API."""
    headers = None
    if error.retry_after_s is not None:
        headers = {"retry-after": str(max(1, round(error.retry_after_s)))}
    elif error.status_code == 503:
        headers = {"retry-after": "5"}
    elif error.status_code == 401:
        headers = {"www-authenticate": 'Bearer realm="stellwerk"'}
    body = _anthropic_body(error) if anthropic else error_body(error)
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def _anthropic_body(error: StellwerkError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": anthropic_error_type(error.status_code),
                                       "message": error.message}}


def anthropic_error_type(status: int) -> str:
    """The Anthropic error type for an HTTP status."""
    return _ANTHROPIC_ERROR_TYPES.get(status, "invalid_request_error" if 400 <= status < 500 else "api_error")


def endpoint_of(path: str) -> str:
    """The ledger's endpoint name for a request path."""
    return _ENDPOINTS.get(path, path)


def _dialect(request: Request) -> bool:
    """True where the client speaks Anthropic's API (its errors have another shape)."""
    return request.url.path.startswith("/v1/messages")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StellwerkError, _stellwerk_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # NOTE: unexpected exceptions are answered by `router.edge.EdgeGuard`, which does not re-raise them
    # (Starlette's ServerErrorMiddleware would, and uvicorn then resets the keep-alive connection).


async def _stellwerk_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StellwerkError)
    return error_response(exc, anthropic=_dialect(request))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    error = validation_error(exc.errors())
    _record_refusal(request, error, exc.body)
    return error_response(error, anthropic=_dialect(request))


def _record_refusal(request: Request, error: StellwerkError, body: Any) -> None:
    """A request refused before a route ran gets its ledger row (the caller is known by then)."""
    from router.tenancy.http import CALLER_STATE

    ctx = request.scope.get("state", {}).get(CALLER_STATE)
    if ctx is None:
        return
    model = body.get("model") if isinstance(body, dict) else None
    try:
        services(request).tenancy.record_failure(ctx, model if isinstance(model, str) else "", error,
                                                 endpoint_of(request.url.path))
    except Exception as exc:  # the ledger is closed: the refusal still goes out
        logger.warning("ledger: refusal not recorded (%s)", type(exc).__name__)


def validation_error(errors: Any) -> InvalidRequest:
    """One 400 naming each bad field; a body that is not JSON says so."""
    parts: list[str] = []
    param: str | None = None
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        if err.get("type") == "json_invalid":
            return InvalidRequest("the request body is not valid JSON: "
                                  f"{err.get('ctx', {}).get('error', 'parse error')}")
        where = ".".join(loc) or "body"
        param = param or where
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return InvalidRequest("invalid request: " + "; ".join(parts), param=param)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error = InvalidRequest(str(exc.detail))
    error.status_code = exc.status_code
    error.code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    return error_response(error, anthropic=_dialect(request))
