"""What a request (its headers) and its tenant add to a routing decision besides the body.

Headers, each optional:
    x-stellwerk-objective       the objective's name (else the tenant's default, else the router's)
    x-stellwerk-session         a conversation id for session affinity (else the conversation's opening)
    x-stellwerk-cost-weight     quality points one unit of currency is worth (the `value` objective's λ)
    x-stellwerk-frontier-share  at most this share (0..1, whole percent) of this tenant's requests that
                                carry the same header value go to frontier models
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
    "OBJECTIVE_HEADER",
    "SESSION_HEADER",
    "RoutingHints",
    "hints_from_headers",
]

OBJECTIVE_HEADER = "x-stellwerk-objective"
SESSION_HEADER = "x-stellwerk-session"
COST_WEIGHT_HEADER = "x-stellwerk-cost-weight"
FRONTIER_SHARE_HEADER = "x-stellwerk-frontier-share"
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
    )


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
