"""`TenancyService`: who is calling, what they may use, whether they may call now, and what it cost.

For each request the HTTP layer asks, in order:
1. `authenticate`: the bearer key (or `x-api-key`) → tenant; 401 for no key, a wrong or revoked one.
   With `auth: off` (the embedded default) every request is the tenant `default`.
2. `admit`: the tenant's rate limits (requests and tokens per minute) and budgets (per day and month,
   from the cost ledger) → 429 with Retry-After when over.
3. `screen`: personal data and secrets in the prompt (`router.guard`), where the tenant's policy says
   so: `refuse` → 403; `on-prem` → only models that keep prompts on our machines.
4. `policies`: the candidate filters for routing: the tenant's policy, the ban list, the screening.
5. `record`: the ledger row (tenant, key, model, provider, tokens, cost, latency, route, status),
   committed before the answer's last byte, so an answered request is never missing from the ledger.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cluster.periodic import Periodic
from models.catalogue import ModelEntry
from router.errors import AuthenticationFailed, NotAllowed
from router.guard import SensitiveDataDetector
from router.hot_reload import ConfigHolder
from router.routing.candidates import CandidatePolicy
from router.store import CostQueries, Database, LedgerRecord, LedgerWriter, StoreError
from router.tenancy.budget import BudgetTracker
from router.tenancy.config import ANONYMOUS_TENANT, TenantConfig, TenantsConfig
from router.tenancy.directory import Directory
from router.tenancy.limits import Admission, Limiter, SharedRateLimiter
from router.tracing import current_trace_id, span
from serving.engine import Usage
from serving.errors import StellwerkError

__all__ = ["UNAUTHENTICATED_TENANT", "FinishedRun", "Screening", "TenancyService", "TenantContext",
           "unauthenticated"]

# The ledger's tenant for requests refused because they had no valid key.
UNAUTHENTICATED_TENANT = "(unauthenticated)"


class RouteLabel(Protocol):
    """How a run's model was chosen, as the ledger records it."""

    @property
    def reason(self) -> str: ...

    @property
    def objective(self) -> str | None: ...


class FinishedRun(Protocol):
    """What the ledger needs of a finished chat run (`router.chat.service.ChatRun` is one); tenancy sits
    below the chat service and does not import it."""

    @property
    def id(self) -> str: ...

    @property
    def entry(self) -> ModelEntry: ...

    @property
    def route(self) -> RouteLabel: ...

    @property
    def usage(self) -> Usage | None: ...

    @property
    def cost(self) -> float | None: ...

    @property
    def status(self) -> int | None: ...

    @property
    def error_type(self) -> str | None: ...

    @property
    def latency_s(self) -> float | None: ...

logger = logging.getLogger(__name__)

@dataclass
class TenantContext:
    """The caller of one request: its tenant, key and policy, and its rate-limit admission."""

    tenant: str
    key_id: str | None
    config: TenantConfig
    admission: Admission | None = None
    started: float = field(default_factory=time.perf_counter)


def unauthenticated() -> TenantContext:
    """The caller of a request refused for its key: recorded, never served."""
    return TenantContext(UNAUTHENTICATED_TENANT, None, TenantConfig())


@dataclass(frozen=True)
class Screening:
    """What the sensitive-data guard found (kinds and counts, never the text) and what it implies."""

    kinds: Mapping[str, int]
    on_prem_only: bool

    def headers(self) -> dict[str, str]:
        return {"x-stellwerk-sensitive": ",".join(sorted(self.kinds))} if self.kinds else {}


@dataclass(frozen=True)
class _OnPremOnly:
    kinds: str

    def reject_reason(self, entry: ModelEntry) -> str | None:
        if entry.residency.leaves_premises:
            return f"the prompt contains {self.kinds}, which the tenant's policy keeps on the premises"
        return None


class TenancyService:
    def __init__(self, tenants: ConfigHolder[TenantsConfig], db: Database, *,
                 detector: SensitiveDataDetector | None = None, budget_refresh_s: float = 5.0,
                 limiter: Limiter | None = None) -> None:
        """Reads keys, bans and budgets now and starts the ledger writer thread; `start` (in the
        app's lifespan) adds the background polling, `close` stops everything."""
        self.tenants = tenants
        self.db = db
        self.directory = Directory(db)
        self.limiter = limiter or SharedRateLimiter(db)
        self.ledger = CostQueries(db)
        self.budgets = BudgetTracker(self.ledger)
        self.writer = LedgerWriter(db)
        self._detector = detector or SensitiveDataDetector()
        self._budget_loop = Periodic("budget refresh", budget_refresh_s, self._refresh_budgets,
                                     wait_first=True)
        self.directory.refresh(force=True)
        self.budgets.refresh(self._budgeted())
        self.writer.start()

    @classmethod
    def open_access(cls, db: Database) -> TenancyService:
        """No keys, one anonymous tenant without limits; bans and the ledger still apply."""
        config = TenantsConfig.open_access()
        return cls(ConfigHolder.fixed(config, Path("(open access)")), db)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start polling keys and bans, the tenants file and budgets (in the running event loop)."""
        self.directory.start()
        self.tenants.start()
        self._budget_loop.start()

    async def close(self) -> None:
        await self._budget_loop.stop()
        await self.tenants.stop()
        await self.directory.stop()
        await asyncio.to_thread(self.writer.close)
        self.db.close()

    # -- per request -----------------------------------------------------------------------------

    def authenticate(self, headers: Mapping[str, str]) -> TenantContext:
        config = self.tenants.current
        if config.auth == "off":
            return TenantContext(ANONYMOUS_TENANT, None, config.tenant(ANONYMOUS_TENANT) or TenantConfig())
        secret = _secret(headers)
        if secret is None:
            raise AuthenticationFailed("no API key: send it as 'Authorization: Bearer <key>' "
                                       "(or 'x-api-key: <key>')")
        key = self.directory.lookup(secret)
        if key is None:
            raise AuthenticationFailed("the API key is not valid (unknown or revoked)")
        tenant = config.tenant(key.tenant)
        if tenant is None:
            raise AuthenticationFailed(f"the API key's tenant {key.tenant!r} is not configured on this "
                                       "router; ask the operator")
        return TenantContext(key.tenant, key.id, tenant)

    def admit(self, ctx: TenantContext, tokens: int) -> None:
        """Rate limits, then budgets; raises 429 (`RateLimited`, `QuotaExceeded`) when over."""
        self.budgets.check(ctx.tenant, ctx.config.budget)
        ctx.admission = self.limiter.admit(ctx.tenant, ctx.config.limits, tokens)

    def screen(self, ctx: TenantContext, texts: Iterable[str]) -> Screening:
        """Look for personal data and secrets where the tenant's policy cares; 403 if it refuses them."""
        action = ctx.config.policy.sensitive_data
        if action == "allow":
            return Screening({}, on_prem_only=False)
        kinds = self._detector.kinds_in(texts)
        if kinds:  # kinds and counts only: the text itself is never logged
            logger.info("tenant %s: the prompt contains %s; policy %s", ctx.tenant,
                        ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())), action)
        if kinds and action == "refuse":
            raise NotAllowed(f"the request contains {_describe(kinds)}, which tenant {ctx.tenant!r} may not "
                             "send to any model", code="sensitive_data")
        return Screening(kinds, on_prem_only=bool(kinds))

    def policies(self, ctx: TenantContext, screening: Screening) -> list[CandidatePolicy]:
        policies: list[CandidatePolicy] = [ctx.config.policy, self.directory.ban_policy]
        if screening.on_prem_only:
            policies.append(_OnPremOnly(_describe(screening.kinds)))
        return policies

    # -- the ledger ------------------------------------------------------------------------------

    async def record_run(self, ctx: TenantContext, run: FinishedRun, endpoint: str) -> None:
        """Commit the finished run's ledger row (call before the answer's last byte)."""
        with span("stellwerk.ledger.commit"):
            await self.writer.record(self._run_record(ctx, run, endpoint))

    def record_run_nowait(self, ctx: TenantContext, run: FinishedRun, endpoint: str) -> None:
        """For runs whose client is gone: nobody waits for the commit."""
        self.writer.record_nowait(self._run_record(ctx, run, endpoint))

    def record_embedding(self, ctx: TenantContext, entry: ModelEntry, prompt_tokens: int, status: int,
                         error_type: str | None) -> None:
        """An embeddings request (local models are free; the row counts the tokens)."""
        self.writer.record_nowait(LedgerRecord(
            ts=datetime.now(UTC), request_id=f"emb-{uuid.uuid4().hex}", tenant=ctx.tenant, key_id=ctx.key_id,
            endpoint="embeddings", model=entry.id, provider=entry.provider, prompt_tokens=prompt_tokens,
            completion_tokens=0, cost=prompt_tokens * entry.pricing.input_per_mtok / 1e6,
            currency=entry.pricing.currency, latency_ms=(time.perf_counter() - ctx.started) * 1000,
            route="requested", objective=None, status=status, error_type=error_type,
            trace_id=current_trace_id()))

    def record_failure(self, ctx: TenantContext, model: str, error: StellwerkError, endpoint: str) -> None:
        """A request refused or failed before any model answered (no tokens, no cost)."""
        self.writer.record_nowait(LedgerRecord(
            ts=datetime.now(UTC), request_id=f"req-{uuid.uuid4().hex}", tenant=ctx.tenant,
            key_id=ctx.key_id, endpoint=endpoint, model=model, provider="", prompt_tokens=0,
            completion_tokens=0, cost=0.0, currency="USD",
            latency_ms=(time.perf_counter() - ctx.started) * 1000, route="", objective=None,
            status=error.status_code, error_type=error.code or error.error_type, trace_id=current_trace_id()))

    def _run_record(self, ctx: TenantContext, run: FinishedRun, endpoint: str) -> LedgerRecord:
        usage, cost = run.usage, run.cost or 0.0
        tokens = (usage.prompt_tokens + usage.completion_tokens) if usage else 0
        if ctx.admission is not None and usage is not None:
            self.limiter.settle(ctx.admission, tokens)
        self.budgets.add(ctx.tenant, cost)
        return LedgerRecord(
            ts=datetime.now(UTC), request_id=run.id, tenant=ctx.tenant, key_id=ctx.key_id, endpoint=endpoint,
            model=run.entry.id, provider=run.entry.provider,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0, cost=cost,
            currency=run.entry.pricing.currency, latency_ms=(run.latency_s or 0.0) * 1000,
            route=run.route.reason, objective=run.route.objective,
            status=run.status if run.status is not None else 499,  # not finished: the client left
            error_type=run.error_type, trace_id=current_trace_id(),
            cached_tokens=usage.cached_tokens if usage else 0,
            reasoning_tokens=usage.reasoning_tokens if usage else 0)

    # -- background ------------------------------------------------------------------------------

    def _budgeted(self) -> list[str]:
        return [name for name, t in self.tenants.current.tenants.items()
                if t.budget.per_day is not None or t.budget.per_month is not None]

    async def _refresh_budgets(self) -> None:
        try:
            await asyncio.to_thread(self.budgets.refresh, self._budgeted())
        except StoreError as exc:
            logger.warning("budgets: cannot read the ledger (%s); using the last totals", exc)

    def status(self) -> dict[str, Any]:
        cfg = self.tenants.current
        return {"auth": cfg.auth, "tenants": sorted(cfg.tenants), "config": str(self.tenants.path),
                "config_version": self.tenants.version, "config_error": self.tenants.error,
                "database": self.db.describe(),
                "bans": [{"kind": b.kind, "target": b.target, "reason": b.reason}
                         for b in self.directory.ban_policy.bans]}


def _secret(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None


def _describe(kinds: Mapping[str, int]) -> str:
    return ", ".join(f"{kind.replace('_', ' ')}" for kind in sorted(kinds))
