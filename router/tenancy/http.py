"""The tenancy steps as the HTTP endpoints use them: FastAPI dependencies and the chat gate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request

from router.features.request_features import estimate_prompt_tokens
from router.registry import ModelRegistry
from router.routing.candidates import CandidatePolicy
from router.routing.hints import RoutingHints, hints_from_headers
from router.schemas import ChatCompletionRequest
from router.tenancy.service import Screening, TenancyService, TenantContext
from router.tracing import set_request_attributes, span

__all__ = ["SERVICES_STATE", "Caller", "ChatGate", "TenancyParts", "authenticate_traced", "caller",
           "gate_chat", "routing_hints", "tenancy_parts"]

CALLER_STATE = "stellwerk_caller"  # the request-scope key router.edge stores the caller under
SERVICES_STATE = "services"  # where `create_app` keeps its `router.services.Services`

# Output tokens counted against a tokens-per-minute limit when a request sets no max_tokens.
_ASSUMED_OUTPUT_TOKENS = 256


class TenancyParts(Protocol):
    """What this layer reads of the app's services (`router.services.Services`, a layer above, has it)."""

    @property
    def tenancy(self) -> TenancyService: ...

    @property
    def registry(self) -> ModelRegistry: ...

    @property
    def admin_key(self) -> str | None: ...


def tenancy_parts(request: Request) -> TenancyParts:
    """The app's services, as far as the tenancy layer knows them."""
    parts: TenancyParts = getattr(request.app.state, SERVICES_STATE)
    return parts


async def caller(request: Request) -> TenantContext:
    """FastAPI dependency: the request's tenant (401 without a valid key where keys are required)."""
    ctx = request.scope.get("state", {}).get(CALLER_STATE)  # authenticated by router.edge already
    if isinstance(ctx, TenantContext):
        return ctx
    return authenticate_traced(tenancy_parts(request).tenancy, request.headers)


def authenticate_traced(tenancy: TenancyService, headers: Mapping[str, str]) -> TenantContext:
    """`tenancy.authenticate` in its own span (401 raised as it is)."""
    with span("stellwerk.authenticate") as current:
        ctx = tenancy.authenticate(headers)
        current.set_attribute("stellwerk.tenant", ctx.tenant)
    set_request_attributes({"stellwerk.tenant": ctx.tenant})
    return ctx


Caller = Annotated[TenantContext, Depends(caller)]
"""An endpoint parameter of this type receives the authenticated caller."""


@dataclass(frozen=True)
class ChatGate:
    policies: list[CandidatePolicy]
    screening: Screening


def gate_chat(tenancy: TenancyService, ctx: TenantContext, body: ChatCompletionRequest, *,
              admit: bool = True) -> ChatGate:
    """Rate limits and budget (unless `admit` is False, for dry runs), the sensitive-data screen, and
    the candidate policies that follow from them."""
    with span("stellwerk.policy") as current:
        if admit:
            tenancy.admit(ctx, estimate_prompt_tokens(body) + (body.output_limit() or _ASSUMED_OUTPUT_TOKENS))
        screening = tenancy.screen(ctx, [m.text() for m in body.messages])
        if screening.kinds:  # the kinds found, never the text
            current.set_attribute("stellwerk.sensitive_kinds", sorted(screening.kinds))
        return ChatGate(tenancy.policies(ctx, screening), screening)


def routing_hints(request: Request, ctx: TenantContext) -> RoutingHints:
    """The request's routing hints: its headers, else the tenant's settings (400 for a bad header)."""
    cfg = ctx.config
    return hints_from_headers(request.headers, tenant=ctx.tenant, default_objective=cfg.default_objective,
                              cost_weight=cfg.cost_weight, tenant_budget=cfg.frontier_budget)
