"""The error tree shared by engines and the router; `router.http` maps it to HTTP in one place.

Errors only the router raises (who may call, what policy allows, what the ledger can take) are in
`router.errors`, marked (router) below.

    StellwerkError
    ├── ClientError                 4xx: the request is wrong; retrying it unchanged will fail again
    │   ├── InvalidRequest          400 invalid_request_error
    │   │   └── ContextLengthExceeded   400 code=context_length_exceeded
    │   ├── AuthenticationFailed    401 (router) code=invalid_api_key (no key, a wrong one, or a revoked one)
    │   ├── ModelNotFound           404 code=model_not_found
    │   ├── ModelUnavailable        404 code=model_not_available (known, but cannot serve here)
    │   ├── RequestTooLarge         413 code=request_too_large (the body is over the router's limit)
    │   ├── RequestTimeout          408 code=request_timeout (the body did not arrive in time)
    │   ├── ContentFiltered         400 code=content_filter (the provider refused the content)
    │   ├── NotAllowed              403 (router) code=model_not_allowed (policy forbids this model/provider)
    │   └── RateLimited             429 code=rate_limited (keeps the upstream Retry-After)
    │       └── QuotaExceeded       429 (router) insufficient_quota (a tenant's budget is spent)
    ├── UpstreamError               5xx: an engine or provider failed; retrying may help
    │   ├── EngineUnavailable       503 (engine down, starting, or overloaded)
    │   ├── EngineFailed            502 (engine answered with an error or garbage)
    │   │   └── UpstreamAuthFailed  502 code=upstream_auth (the provider refused our key)
    │   ├── UpstreamTimeout         504
    │   └── AllCandidatesFailed     every fallback candidate failed: each one's error, in order, and
    │                               the last one's status
    ├── LedgerUnavailable           503 (router) code=ledger_unavailable (the cost ledger's database is down:
    │                               requests are refused rather than answered without their row)
    └── InternalError               500 (a bug in Stellwerk; the body never carries a stack trace)

`router.cancellation.ClientDisconnected` (499, a ClientError) is recorded, never sent: the client left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "AllCandidatesFailed",
    "ClientError",
    "ContentFiltered",
    "ContextLengthExceeded",
    "EngineFailed",
    "EngineUnavailable",
    "InternalError",
    "InvalidRequest",
    "ModelNotFound",
    "ModelUnavailable",
    "RateLimited",
    "RequestTimeout",
    "RequestTooLarge",
    "StellwerkError",
    "UpstreamAuthFailed",
    "UpstreamError",
    "UpstreamTimeout",
    "error_body",
]


class StellwerkError(Exception):
    """Base of every error the router turns into an HTTP answer."""

    status_code: int = 500
    error_type: str = "server_error"
    code: str | None = None
    retry_after_s: float | None = None  # sent as Retry-After when set

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class ClientError(StellwerkError):
    status_code = 400
    error_type = "invalid_request_error"


class InvalidRequest(ClientError):
    pass



class ContextLengthExceeded(InvalidRequest):
    code = "context_length_exceeded"


class ModelNotFound(ClientError):
    status_code = 404
    code = "model_not_found"


class ModelUnavailable(ClientError):
    status_code = 404
    code = "model_not_available"


class RequestTooLarge(ClientError):
    status_code = 413
    code = "request_too_large"


class RequestTimeout(ClientError):
    status_code = 408
    code = "request_timeout"


class ContentFiltered(ClientError):
    code = "content_filter"



class RateLimited(ClientError):
    status_code = 429
    error_type = "rate_limit_error"
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s



class UpstreamError(StellwerkError):
    status_code = 502
    error_type = "upstream_error"


class EngineUnavailable(UpstreamError):
    status_code = 503
    error_type = "service_unavailable"
    code = "engine_unavailable"


class EngineFailed(UpstreamError):
    code = "engine_error"


class UpstreamAuthFailed(EngineFailed):
    code = "upstream_auth"


class UpstreamTimeout(UpstreamError):
    status_code = 504
    code = "upstream_timeout"


class AllCandidatesFailed(UpstreamError):
    """Every model `auto` tried failed before its first byte (TensorZero's `AllModelProvidersFailed`)."""

    code = "all_candidates_failed"

    def __init__(self, failures: Sequence[tuple[str, StellwerkError]]) -> None:
        super().__init__("every candidate model failed: " + "; ".join(
            f"{model}: {e.status_code} {e.code or e.error_type}: {e.message}" for model, e in failures))
        self.failures = tuple(failures)
        last = failures[-1][1]  # its status and Retry-After: what trying again soonest depends on
        self.status_code = last.status_code
        self.retry_after_s = last.retry_after_s



class InternalError(StellwerkError):
    code = "internal_error"


def error_body(error: StellwerkError) -> dict[str, Any]:
    """The OpenAI error object: {"error": {"message", "type", "param", "code"}}."""
    return {
        "error": {
            "message": error.message,
            "type": error.error_type,
            "param": error.param,
            "code": error.code,
        }
    }
