"""One chat request through tenancy and routing, shared by `/v1/chat/completions` and `/v1/messages`:
gate (limits, budget, guard) → route and open → answer → ledger row, whichever way it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request

from router.cancellation import cancel_on_disconnect
from router.chat.service import ChatRun, ChatService
from router.schemas import ChatCompletionRequest
from router.tenancy.http import gate_chat, routing_hints
from router.tenancy.service import TenancyService, TenantContext
from serving.errors import StellwerkError

__all__ = ["AccountedRun", "open_accounted"]

E = TypeVar("E")


@dataclass(frozen=True)
class AccountedRun:
    """An opened run whose ledger row is written however the answer ends."""

    run: ChatRun
    headers: dict[str, str]  # route, objective, fallback and guard headers
    _request: Request
    _ctx: TenantContext
    _tenancy: TenancyService
    _endpoint: str

    def stream(self, events: AsyncIterator[E]) -> AsyncIterator[E]:
        """`events` (the run's, possibly translated), committing the ledger row before the end."""
        return self._tenancy.accounted(self._ctx, self.run, self._endpoint, events)

    async def complete(self) -> dict[str, Any]:
        """The whole answer, its ledger row committed before it is returned."""
        try:
            answer = await cancel_on_disconnect(self._request, self.run.complete())
        except BaseException:
            self._tenancy.record_run_nowait(self._ctx, self.run, self._endpoint)
            raise
        await self._tenancy.record_run(self._ctx, self.run, self._endpoint)
        return answer


async def open_accounted(request: Request, ctx: TenantContext, body: ChatCompletionRequest,
                         endpoint: str) -> AccountedRun:
    """Gate and route the request and wait for its first chunk; a refusal or failure on the way is
    recorded in the ledger and raised (it becomes the HTTP error)."""
    service: ChatService = request.app.state.chat_service
    tenancy: TenancyService = request.app.state.tenancy
    try:
        gate = gate_chat(tenancy, ctx, body)
        run = await cancel_on_disconnect(request, service.open(
            body, hints=routing_hints(request, ctx), policies=gate.policies))
    except StellwerkError as exc:
        tenancy.record_failure(ctx, body.model, exc, endpoint)
        raise
    headers = {"x-stellwerk-model": run.model_id, **run.route.headers(), **gate.screening.headers()}
    return AccountedRun(run, headers, request, ctx, tenancy, endpoint)
