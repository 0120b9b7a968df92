"""One chat request through tenancy and routing, shared by `/v1/chat/completions` and `/v1/messages`:
gate (limits, budget, guard) → route and open → answer → ledger row, whichever way it ends.

The run and its ledger row are settled exactly once: `AccountedRun.close` (called last by the
response, see `router.sse.SseResponse`) settles whatever the stream did not.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request

from router.cancellation import cancel_on_disconnect
from router.chat.service import ChatRun, ChatService
from router.errors import LedgerUnavailable
from router.run_events import RunError, RunEvent
from router.schemas import ChatCompletionRequest
from router.services import services
from router.sse import (
    DEFAULT_STREAM_DEADLINE_S,
    DEFAULT_WRITE_TIMEOUT_S,
    SseResponse,
    StreamFormat,
    sse_stream,
)
from router.store import LedgerError
from router.tenancy.http import gate_chat, routing_hints
from router.tenancy.service import TenancyService, TenantContext
from serving.errors import RateLimited, StellwerkError, UpstreamTimeout

__all__ = ["DEFAULT_STREAMS_PER_TENANT", "AccountedRun", "StreamSettings", "StreamSlots", "open_accounted",
           "open_streamed", "streamed_response"]

# Streams one tenant may hold open at once on this router (each holds an engine slot and a socket).
DEFAULT_STREAMS_PER_TENANT = 256

E = TypeVar("E")
_LEDGER_DOWN = "the cost ledger's database is unavailable, so requests cannot be recorded; retry shortly"


class StreamSlots:
    """A per-tenant cap on concurrent streamed answers on this router: over it, 429."""

    def __init__(self, per_tenant: int = DEFAULT_STREAMS_PER_TENANT) -> None:
        self.per_tenant = per_tenant
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, tenant: str) -> None:
        with self._lock:
            held = self._open.get(tenant, 0)
            if held >= self.per_tenant:
                raise RateLimited(f"tenant {tenant!r} already has {held} streams open, the most this "
                                  "router allows at once; retry when one has finished", retry_after_s=1.0)
            self._open[tenant] = held + 1

    def release(self, tenant: str) -> None:
        with self._lock:
            held = self._open.get(tenant, 0) - 1
            if held > 0:
                self._open[tenant] = held
            else:
                self._open.pop(tenant, None)

    def held(self, tenant: str) -> int:
        return self._open.get(tenant, 0)

    @contextmanager
    def slot(self, tenant: str) -> Iterator[None]:
        """Hold a slot while opening; released on failure (the response releases it otherwise)."""
        self.acquire(tenant)
        try:
            yield
        except BaseException:
            self.release(tenant)
            raise


@dataclass
class AccountedRun:
    """An opened run whose ledger row is written exactly once, however the answer ends."""

    run: ChatRun
    headers: dict[str, str]  # route, objective, fallback and guard headers
    _request: Request
    _ctx: TenantContext
    _tenancy: TenancyService
    _endpoint: str
    _recorded: bool = field(default=False, init=False)

    @property
    def tenant(self) -> str:
        return self._ctx.tenant

    async def stream(self, events: AsyncGenerator[E, None]) -> AsyncGenerator[E, None]:
        """`events` (the run's, possibly translated), committing the ledger row before the end."""
        async with aclosing(events):
            async for event in events:
                yield event
        if not self._recorded:
            self._recorded = True
            await self._record()

    async def close(self) -> None:
        """Settle the run and its ledger row if the stream did not (the client left, a deadline)."""
        try:
            await self.run.aclose()
        finally:
            if not self._recorded:
                self._recorded = True
                self._tenancy.record_run_nowait(self._ctx, self.run, self._endpoint)

    async def complete(self) -> dict[str, Any]:
        """The whole answer, its ledger row committed before it is returned."""
        try:
            answer = await cancel_on_disconnect(self._request, self.run.complete())
        except BaseException:
            await self.close()
            raise
        self._recorded = True
        await self._record()
        return answer

    async def _record(self) -> None:
        """Commit the row; a ledger that cannot commit refuses the answer (503) rather than give it
        unrecorded."""
        try:
            await self._tenancy.record_run(self._ctx, self.run, self._endpoint)
        except LedgerError as exc:
            # The client gets the 503, so that is the row's status; it is kept and written once the
            # database is back (with the tokens and cost the answer did use).
            self.run.status, self.run.error_type = LedgerUnavailable.status_code, LedgerUnavailable.code
            self._tenancy.record_run_nowait(self._ctx, self.run, self._endpoint)
            raise LedgerUnavailable(_LEDGER_DOWN) from exc


@dataclass(frozen=True)
class StreamSettings:
    """Bounds on streamed answers: the per-tenant cap, the whole-answer deadline, the write timeout."""

    slots: StreamSlots = field(default_factory=StreamSlots)
    deadline_s: float = DEFAULT_STREAM_DEADLINE_S
    write_timeout_s: float = DEFAULT_WRITE_TIMEOUT_S


async def open_streamed(request: Request, ctx: TenantContext, body: ChatCompletionRequest,
                        endpoint: str) -> AccountedRun:
    """`open_accounted` for a streamed answer, holding one of the tenant's stream slots (429 if none is
    free) until `streamed_response`'s response ends."""
    settings: StreamSettings = services(request).streams
    with settings.slots.slot(ctx.tenant):
        return await open_accounted(request, ctx, body, endpoint)


def streamed_response(request: Request, opened: AccountedRun, events: AsyncGenerator[RunEvent, None],
                      fmt: StreamFormat[RunEvent], headers: dict[str, str]) -> SseResponse:
    """The SSE response for an `open_streamed` run: `events` (the run's, possibly wrapped) in the
    dialect `fmt`, the ledger row committed before the end; settles the run and frees the slot when it
    ends; over the deadline it ends with an error in the client's dialect."""
    settings: StreamSettings = services(request).streams
    tenant = opened.tenant

    async def on_close() -> None:
        try:
            await opened.close()
        finally:
            settings.slots.release(tenant)

    late = RunError.of(UpstreamTimeout(f"the answer took longer than this router's limit of "
                                       f"{settings.deadline_s:g} s", code="stream_deadline"))
    return SseResponse(sse_stream(opened.stream(events), fmt), headers=headers, on_close=on_close,
                       on_deadline=opened.run.expire, deadline_frames=lambda: fmt.failure(late) + fmt.end(),
                       deadline_s=settings.deadline_s, write_timeout_s=settings.write_timeout_s)


async def open_accounted(request: Request, ctx: TenantContext, body: ChatCompletionRequest,
                         endpoint: str) -> AccountedRun:
    """Gate and route the request and wait for its first chunk; a refusal or failure on the way is
    recorded in the ledger and raised (it becomes the HTTP error)."""
    service: ChatService = services(request).chat
    tenancy: TenancyService = services(request).tenancy
    try:
        if not tenancy.writer.healthy:  # fail fast: no upstream work whose cost could not be recorded
            raise LedgerUnavailable(_LEDGER_DOWN)
        gate = gate_chat(tenancy, ctx, body)
        run = await cancel_on_disconnect(request, service.open(
            body, hints=routing_hints(request, ctx), policies=gate.policies))
    except StellwerkError as exc:
        tenancy.record_failure(ctx, body.model, exc, endpoint)
        raise
    headers = {"x-stellwerk-model": run.model_id, **run.route.headers(), **gate.screening.headers()}
    return AccountedRun(run, headers, request, ctx, tenancy, endpoint)
