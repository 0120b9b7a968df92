"""Errors only the router raises: who may call, what policy allows, what the ledger can take.

Engines and providers never raise these, so they live here rather than in `serving.errors` (whose tree
they join: `router.http` maps every `StellwerkError` to HTTP in one place).
"""

from __future__ import annotations

from serving.errors import ClientError, RateLimited, StellwerkError

__all__ = ["AuthenticationFailed", "LedgerUnavailable", "NotAllowed", "QuotaExceeded"]


class AuthenticationFailed(ClientError):
    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class NotAllowed(ClientError):
    status_code = 403
    error_type = "permission_error"
    code = "model_not_allowed"


class QuotaExceeded(RateLimited):
    error_type = "insufficient_quota"
    code = "insufficient_quota"


class LedgerUnavailable(StellwerkError):
    status_code = 503
    error_type = "service_unavailable"
    code = "ledger_unavailable"
