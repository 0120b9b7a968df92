"""What a request (its headers) and its tenant add to a routing decision besides the body.

Headers, each optional:
    x-stellwerk-objective       the objective's name (else the tenant's default, else the router's)
    x-stellwerk-session         a conversation id for session affinity (else the conversation's opening)
    x-stellwerk-cost-weight     quality points one unit of currency is worth (the `value` objective's λ)
    x-stellwerk-frontier-share  at most this share (0..1, whole percent) of this tenant's requests that
                                carry the same header value go to frontier models
    x-stellwerk-max-wait        seconds the client lets the router wait for a local pool scaling up from
                                zero (0: not at all); without it, half the timeout the OpenAI or Anthropic
                                SDK announces (x-stainless-read-timeout / x-stainless-timeout), so the
                                answer keeps the other half
A malformed value is a 400 naming the header, never ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from router.routing.config import FrontierBudgetConfig
from serving.errors import InvalidRequest

__all__ = [
    "COST_WEIGHT_HEADER",
    "FRONTIER_SHARE_HEADER",
    "MAX_WAIT_HEADER",
    "OBJECTIVE_HEADER",
    "SESSION_HEADER",
    "RoutingHints",
    "hints_from_headers",
]

OBJECTIVE_HEADER = "x-stellwerk-objective"
SESSION_HEADER = "x-stellwerk-session"
COST_WEIGHT_HEADER = "x-stellwerk-cost-weight"
FRONTIER_SHARE_HEADER = "x-stellwerk-frontier-share"
MAX_WAIT_HEADER = "x-stellwerk-max-wait"
_SDK_TIMEOUT_HEADERS = ("x-stainless-read-timeout", "x-stainless-timeout")  # OpenAI's, Anthropic's SDK
_MAX_WAIT_S = 3600.0
_MAX_COST_WEIGHT = 1e9


@dataclass(frozen=True)
class RoutingHints:
    """Per-request routing settings from the headers and the tenant's configuration."""

    objective: str | None = None
    tenant: str = "default"
    session: str | None = None
    cost_weight: float | None = None
    frontier_share: float | None = None
    tenant_budget: FrontierBudgetConfig | None = None
    max_wait_s: float | None = None  # the client's bound on waiting for a pool to scale up


def hints_from_headers(headers: Mapping[str, str], *, tenant: str, default_objective: str | None = None,
                       cost_weight: float | None = None,
                       tenant_budget: FrontierBudgetConfig | None = None) -> RoutingHints:
    """The hints of one request; the tenant's settings apply where the request sets none."""
    header_weight = _number(headers.get(COST_WEIGHT_HEADER), COST_WEIGHT_HEADER, 0.0, _MAX_COST_WEIGHT)
    share = _number(headers.get(FRONTIER_SHARE_HEADER), FRONTIER_SHARE_HEADER, 0.0, 1.0)
    if share is not None:  # whole percent: each distinct value is a budget the router keeps (bounded)
        share = round(share, 2)
    return RoutingHints(
        objective=headers.get(OBJECTIVE_HEADER) or default_objective,
        tenant=tenant,
        session=headers.get(SESSION_HEADER) or None,
        cost_weight=cost_weight if header_weight is None else header_weight,
        frontier_share=share,
        tenant_budget=tenant_budget,
        max_wait_s=_client_wait(headers),
    )


def _client_wait(headers: Mapping[str, str]) -> float | None:
    """How long the client lets a request wait for a pool to scale up: its explicit header, else half
    its SDK's timeout (an SDK header that does not parse is ignored: the client did not write it)."""
    explicit = _number(headers.get(MAX_WAIT_HEADER), MAX_WAIT_HEADER, 0.0, _MAX_WAIT_S)
    if explicit is not None:
        return explicit
    for header in _SDK_TIMEOUT_HEADERS:
        try:
            timeout = float(headers.get(header) or "nan")
        except ValueError:
            continue
        if math.isfinite(timeout) and timeout > 0:
            return timeout / 2
    return None


def _number(raw: str | None, header: str, low: float, high: float) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise InvalidRequest(f"header {header} must be a number in [{low:g}, {high:g}], got {raw[:40]!r}",
                             param=header)
    return value
