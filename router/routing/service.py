"""`RoutingService`: features → candidates → scores → decision, with the live state routing keeps.

It ties the parts of this package together for the chat endpoints: the hot-reloaded configuration, the
request features (task category, quality estimate), the quality table, live load and the TTFT model,
the per-model circuit breakers, spillover hysteresis, Prometheus counters and the decision log. The
endpoints call `decide` for `model: auto`, `check_allowed` for a named model, and wrap each engine call
in a `Dispatch` so that queue depth and measured TTFTs flow back into the next decision.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from cluster.telemetry import TelemetrySnapshot
from models.catalogue import ModelEntry
from router.errors import NotAllowed
from router.features.request_features import RequestFeatures
from router.hot_reload import ConfigHolder
from router.metrics import RouterMetrics
from router.routing.affinity import SessionAffinity, session_key
from router.routing.budget import FrontierBudget
from router.routing.candidates import CandidatePolicy, Rejection, filter_candidates, policy_rejection
from router.routing.config import FrontierBudgetConfig, RoutingConfig
from router.routing.decision import Assessment, Decision, RankingObjective, rank, utility
from router.routing.decision_log import DecisionLog
from router.routing.health import HealthTracker
from router.routing.hints import RoutingHints
from router.routing.load import LoadView
from router.routing.scale_wait import ScaleUpWait
from router.routing.span_attributes import decision_attributes, feature_attributes
from router.routing.spillover import SpilloverState
from router.routing.ttft import LatencyModel
from router.schemas import ChatCompletionRequest
from router.tracing import current_trace_id, span
from serving.errors import ContextLengthExceeded, EngineUnavailable, InvalidRequest, StellwerkError

__all__ = ["CategoryQuality", "Dispatch", "FeatureSource", "FirstKnownQuality", "QualityPredictor",
           "QualityScores", "RoutingService"]

logger = logging.getLogger(__name__)

RECENT_DECISIONS = 200  # kept in memory for the operator console
# The classifier's own threads (its ONNX runs release the GIL): as many as a small router box has
# cores, so bursts queue instead of oversubscribing them, and database calls on the default executor
# never queue in front of a routing decision.
FEATURE_WORKERS = 2


class FeatureSource(Protocol):
    def extract(self, request: ChatCompletionRequest) -> RequestFeatures: ...


class QualityScores(Protocol):
    def score(self, model_id: str, category: str) -> float | None: ...


class QualityPredictor(Protocol):
    def predict(self, features: RequestFeatures, entry: ModelEntry) -> float | None:
        """P(a good answer) from `entry` for the request described by `features`; None: unknown."""


class CategoryQuality:
    """A `QualityPredictor` from a per-category table (the request's predicted category's score)."""

    def __init__(self, table: QualityScores) -> None:
        self._table = table

    def predict(self, features: RequestFeatures, entry: ModelEntry) -> float | None:
        return self._table.score(entry.id, features.category)


class FirstKnownQuality:
    """The first of several predictors that knows the (request, model) pair: e.g. the per-prompt model,
    then the category table for a request without text or a model without a descriptor."""

    def __init__(self, *predictors: QualityPredictor) -> None:
        self._predictors = predictors

    def predict(self, features: RequestFeatures, entry: ModelEntry) -> float | None:
        for predictor in self._predictors:
            value = predictor.predict(features, entry)
            if value is not None:
                return value
        return None


@dataclass
class Dispatch:
    """One engine call's place in the load view; `first_token` and `close` feed the TTFT model."""

    entry: ModelEntry
    queued: int
    _service: RoutingService = field(repr=False)
    prompt_tokens: int = 0
    _started: float = field(init=False)
    _open: bool = True

    def __post_init__(self) -> None:
        self._started = self._service.clock()

    def first_token(self) -> None:
        """The engine's first token arrived: learn its TTFT (from this dispatch, not the request)."""
        ttft = self._service.clock() - self._started
        self._service.latency.observe(self.entry.id, ttft, self.queued, local=self.entry.is_local,
                                      prompt_tokens=self.prompt_tokens)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._service.load.finished(self.entry.id)


class RoutingService:
    """See the module docstring. The circuit breakers (`health`), the spillover state and the clocks are
    injected (`router.routing.build` makes the defaults); each is built from the configuration when
    not given."""

    def __init__(
        self,
        config: ConfigHolder[RoutingConfig],
        features: FeatureSource,
        quality: QualityPredictor,
        candidates: Callable[[], Sequence[ModelEntry]],
        snapshot: Callable[[], TelemetrySnapshot],
        metrics: RouterMetrics,
        *,
        decision_log: DecisionLog | None = None,
        wake: Callable[[ModelEntry], None] | None = None,
        scale_up: ScaleUpWait | None = None,
        health: HealthTracker | None = None,
        spillover: SpilloverState | None = None,
        clock: Callable[[], float] = time.perf_counter,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._features = features
        self._quality = quality
        self._candidates = candidates
        self._metrics = metrics
        cfg = config.current
        self.load = LoadView(snapshot)
        self.latency = LatencyModel(cfg.latency)
        self.health = health or HealthTracker(cfg.fallback.failure_threshold, cfg.fallback.cooldown_s)
        self.spillover = spillover or SpilloverState(cfg.spillover)
        self.clock = clock  # times each dispatch's TTFT
        self._wall = wall  # stamps the recent decisions the console shows
        self.sessions = SessionAffinity(cfg.sessions)
        self._budgets: dict[tuple[str, ...], FrontierBudget] = {}
        self._wake = wake  # asks a local pool that has no ready replica to scale up (see _unhealthy)
        self._scale_up = scale_up  # holds requests only such a pool may serve until it is ready
        self._log = decision_log or (DecisionLog(cfg.decision_log) if cfg.decision_log else None)
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_DECISIONS)
        self._feature_pool = ThreadPoolExecutor(FEATURE_WORKERS, thread_name_prefix="stellwerk-features")
        config.on_change(self._reconfigure)
        metrics.config_version.set(config.version)

    def _reconfigure(self, cfg: RoutingConfig) -> None:
        self._metrics.config_version.set(self.config.version)
        self.latency.set_priors(cfg.latency)
        self.health.configure(cfg.fallback.failure_threshold, cfg.fallback.cooldown_s)
        self.spillover.configure(cfg.spillover)
        self.sessions.configure(cfg.sessions)

    def close(self) -> None:
        self._feature_pool.shutdown(wait=False)
        if self._log is not None:
            self._log.close()

    # -- decisions -------------------------------------------------------------------------------

    async def features(self, request: ChatCompletionRequest) -> RequestFeatures:
        """The request's features (the classifier runs on its own worker threads: it is CPU work)."""
        with span("stellwerk.features") as current:
            call = functools.partial(contextvars.copy_context().run, self._features.extract, request)
            features = await asyncio.get_running_loop().run_in_executor(self._feature_pool, call)
            current.set_attributes(feature_attributes(features))
            return features

    async def decide(self, request: ChatCompletionRequest, objective_name: str | None = None, *,
                     request_id: str, policies: Sequence[CandidatePolicy] = (),
                     dry_run: bool = False, hints: RoutingHints | None = None) -> Decision:
        with span("stellwerk.route") as current:
            def attempt() -> Awaitable[Decision]:
                return self._decide(request, objective_name, request_id=request_id, policies=policies,
                                    dry_run=dry_run, hints=hints)
            if self._scale_up is None or dry_run:
                decision = await attempt()
            else:
                decision = await self._scale_up.retry(attempt, lambda: self._pools_not_ready(policies),
                                                      *self._scale_up_bounds(hints))
            current.set_attributes(decision_attributes(decision))
            return decision

    def _pools_not_ready(self, policies: Sequence[CandidatePolicy]) -> list[ModelEntry]:
        """Local models the policies allow that routing skips only for "engine not ready"."""
        rules = [self.config.current.policy, *policies]
        return [m for m in self._candidates()
                if m.is_local and policy_rejection(rules, m) is None
                and self.health.unhealthy_reason(m.id) is None and self.load.engine_error(m.id) is not None]

    def _scale_up_bounds(self, hints: RoutingHints | None) -> tuple[float, float]:
        """(the longest wait for a pool to scale up, the Retry-After when it runs out)."""
        cfg = self.config.current.scale_up
        client = hints.max_wait_s if hints is not None else None
        return min(cfg.max_wait_s, cfg.max_wait_s if client is None else client), cfg.retry_after_s

    async def _decide(self, request: ChatCompletionRequest, objective_name: str | None, *,
                      request_id: str, policies: Sequence[CandidatePolicy], dry_run: bool,
                      hints: RoutingHints | None) -> Decision:
        cfg = self.config.current  # one version for the whole decision
        hints = hints or RoutingHints(objective=objective_name)
        name, objective = _objective(cfg, objective_name or hints.objective)
        features = await self.features(request)
        filtered = filter_candidates(self._candidates(), features, [cfg.policy, *policies], self._unhealthy)
        allowed, rejected = list(filtered.allowed), list(filtered.rejected)
        if objective.local_only:
            rejected += [Rejection(m.id, "objective", "not local") for m in allowed if not m.is_local]
            allowed = [m for m in allowed if m.is_local]
            if not allowed:
                raise _no_local_model(name, rejected)
        assessed = [self._assess(m, name, objective, features, cfg, commit=not dry_run) for m in allowed]
        decision = rank(name, objective, features, assessed, rejected, cost_weight=hints.cost_weight)
        decision = self._settle(request, decision, assessed, hints, cfg, commit=not dry_run)
        if not dry_run:
            self._metrics.routes.labels(decision.chosen.id, decision.reason).inc()
            for a in assessed:
                if a.local and objective.ttft_target_s is not None:
                    self._metrics.spilling.labels(a.entry.id, name).set(int(a.overloaded))
        if not dry_run:  # for the operator console (no prompt text: features and candidates only)
            self.recent.append({"ts": self._wall(), "request_id": request_id, "trace_id": current_trace_id(),
                                **decision.to_json()})
        if self._log is not None:
            self._log.record(request_id, decision.to_json(), dry_run=dry_run, trace_id=current_trace_id())
        return decision

    def _settle(self, request: ChatCompletionRequest, decision: Decision, assessed: Sequence[Assessment],
                hints: RoutingHints, cfg: RoutingConfig, *, commit: bool) -> Decision:
        """Session affinity, then the frontier budgets, on top of the objective's order."""
        eligible_ids = {c.model for c in decision.candidates if c.eligible}
        by_id = {a.entry.id: a for a in assessed}
        key = session_key(request, hints.tenant, hints.session) if self.sessions.enabled else None
        sticky = self.sessions.model_for(key) if key is not None else None
        if sticky is not None and sticky in eligible_ids and sticky != decision.chosen.id:
            decision = _promote(decision, by_id[sticky], "session",
                                f"the conversation stays on {sticky} (session affinity)")
        budgets = self._applicable_budgets(hints, cfg)
        if budgets:
            decision = self._apply_budgets(decision, by_id, eligible_ids, budgets, commit=commit)
        if commit and key is not None:
            self.sessions.remember(key, decision.chosen.id)
        return dataclasses.replace(decision, session=key.short() if key is not None else None)

    def _apply_budgets(self, decision: Decision, by_id: dict[str, Assessment], eligible_ids: set[str],
                       budgets: Sequence[FrontierBudget], *, commit: bool) -> Decision:
        pool = [a for m, a in by_id.items() if m in eligible_ids] or list(by_id.values())
        gain, frontier_cost = _frontier_gain(pool, decision.cost_weight or 0.0, decision.quality_cap)
        chosen = by_id[decision.chosen.id]
        notes = []
        if chosen.frontier:
            verdicts = [b.admits(gain, chosen.est_cost) for b in budgets]
            notes = [v.note for v in verdicts]
            refused = [v for v in verdicts if not v.admitted]
            alternative = next((by_id[e.id] for e in decision.order if not by_id[e.id].frontier), None)
            if refused and alternative is not None:
                decision = _promote(decision, alternative, "frontier-budget",
                                    f"{chosen.entry.id} skipped: {refused[0].note}")
        if commit:
            for b in budgets:
                b.record(gain, frontier_cost, frontier=by_id[decision.chosen.id].frontier)
        return dataclasses.replace(decision, budget_note="; ".join(notes) or None)

    def _applicable_budgets(self, hints: RoutingHints, cfg: RoutingConfig) -> list[FrontierBudget]:
        wanted: list[tuple[tuple[str, ...], FrontierBudgetConfig]] = []
        if cfg.frontier_budget is not None:
            wanted.append((("global",), cfg.frontier_budget))
        if hints.tenant_budget is not None:
            wanted.append((("tenant", hints.tenant), hints.tenant_budget))
        if hints.frontier_share is not None:
            header_budget = FrontierBudgetConfig(share=hints.frontier_share)
            wanted.append((("header", hints.tenant, f"{hints.frontier_share:g}"), header_budget))
        budgets = []
        for key, budget_config in wanted:
            budget = self._budgets.get(key)
            if budget is None or budget.config != budget_config:
                budget = self._budgets[key] = FrontierBudget(budget_config)
            budgets.append(budget)
        return budgets

    def budget_status(self) -> list[dict[str, Any]]:
        """Each frontier budget in use: its scope, target and realised share."""
        return [{"scope": ":".join(key), "share_target": b.config.share,
                 "usd_per_hour": b.config.usd_per_hour, "realised_share": b.share()}
                for key, b in sorted(self._budgets.items())]

    def check_allowed(self, entry: ModelEntry, policies: Sequence[CandidatePolicy] = ()) -> None:
        """Raise `NotAllowed` (403) if policy forbids the model a request names."""
        reason = policy_rejection([self.config.current.policy, *policies], entry)
        if reason is not None:
            raise NotAllowed(f"model {entry.id!r} may not be used: {reason}", param="model")

    def max_attempts(self) -> int:
        return self.config.current.fallback.max_attempts

    def _assess(self, entry: ModelEntry, objective_name: str, objective: RankingObjective,
                f: RequestFeatures, cfg: RoutingConfig, *, commit: bool) -> Assessment:
        local = entry.is_local
        queued = self.load.queued(entry.id) if local else 0
        # The load signal: TTFT of a short request behind this queue. The prompt's own prefill is left
        # out, so one long prompt does not put the model into the spill state for everyone after it.
        predicted = self.latency.predict(entry.id, queued, local=local)
        target = objective.ttft_target_s
        gpu_note = self._gpus_saturated(entry, queued, cfg) if local else None
        overloaded = False
        if local and target is not None:
            # Saturated GPUs count as a missed target, so they enter (and leave) the same hysteresis.
            signal = max(predicted, target * 1.01) if gpu_note else predicted
            overloaded = self.spillover.overloaded(entry.id, objective_name, signal, target, commit=commit)
        out_tokens = f.max_tokens or cfg.expected_output_tokens
        price = entry.pricing
        cost = (f.prompt_tokens * price.input_per_mtok + out_tokens * price.output_per_mtok) / 1e6
        quality = self._quality.predict(f, entry)
        return Assessment(entry, quality, cost, predicted, queued, overloaded, gpu_note,
                          cfg.is_frontier(entry))

    def _gpus_saturated(self, entry: ModelEntry, queued: int, cfg: RoutingConfig) -> str | None:
        """Why the GPUs count as saturated for a local GPU model, or None (also without NVML)."""
        busy = cfg.spillover.gpu_busy_pct
        gpus = self.load.gpus()
        if busy is None or entry.accelerator != "gpu" or not gpus:
            return None
        stats = self.load.engine_stats(entry.id)
        waiting = 0 if stats is None else stats.waiting
        if waiting > 0 and all(g.utilization_pct >= busy for g in gpus):
            lowest = min(g.utilization_pct for g in gpus)
            return f"GPUs {lowest:.0f}%+ busy and {waiting} waiting"
        return None

    def _unhealthy(self, entry: ModelEntry) -> str | None:
        reason = self.health.unhealthy_reason(entry.id)
        if reason is None and entry.is_local:
            error = self.load.engine_error(entry.id)
            if error is not None:
                reason = f"engine not ready: {error}"
                if self._wake is not None:  # e.g. scaled to zero: this request goes elsewhere, the
                    self._wake(entry)       # next ones come back once a replica is ready
        return reason

    # -- outcomes --------------------------------------------------------------------------------

    def dispatch(self, entry: ModelEntry, prompt_tokens: int = 0) -> Dispatch:
        """Count a request of about `prompt_tokens` sent to `entry` (its TTFT teaches the TTFT model)."""
        return Dispatch(entry, self.load.started(entry.id), self, prompt_tokens)

    def failed(self, entry: ModelEntry, error: StellwerkError) -> None:
        self.health.failed(entry.id, error.code or error.error_type)

    def succeeded(self, entry: ModelEntry) -> None:
        self.health.succeeded(entry.id)

    def status(self) -> dict[str, Any]:
        cfg = self.config.current
        models = {}
        for entry in self._candidates():
            local = entry.is_local
            est = self.latency.estimate(entry.id, local=local)
            models[entry.id] = {
                "queued": self.load.queued(entry.id) if local else None,
                "in_flight": self.load.in_flight(entry.id),
                "ttft_base_s": round(est.base_s, 4), "ttft_per_request_s": round(est.per_request_s, 4),
                "ttft_per_prompt_token_s": round(est.per_prompt_token_s, 7),
                "ttft_samples": est.samples, "unhealthy": self._unhealthy(entry)}
        return {"config": str(self.config.path), "config_version": self.config.version,
                "frontier_budgets": self.budget_status(), "sessions": len(self.sessions),
                "config_error": self.config.error, "default_objective": cfg.default_objective,
                "objectives": sorted(cfg.objectives),
                "spilling": [{"model": m, "objective": o} for m, o in self.spillover.spilling()],
                "models": models}


_LOCAL_STAGE_ERRORS: dict[str, Callable[[str], StellwerkError]] = {
    "capability": lambda m: InvalidRequest(m, param="model"),
    "context": lambda m: ContextLengthExceeded(m, param="messages"),
    "policy": lambda m: NotAllowed(m, param="model"),
}


def _no_local_model(objective: str, rejected: Sequence[Rejection]) -> StellwerkError:
    """Why a local-only request has no model: the first stage that turned the local models away (a
    missing capability is the request's problem, 400; nothing healthy is ours, 503)."""
    for stage, error in _LOCAL_STAGE_ERRORS.items():
        reasons = sorted({r.reason for r in rejected if r.local and r.stage == stage})
        if reasons:
            return error(f"objective {objective!r} needs a local model, and no local model can serve this "
                         f"request: {'; '.join(reasons)}")
    return EngineUnavailable(f"objective {objective!r} needs a local model, and none is available")


def _promote(decision: Decision, chosen: Assessment, reason: str, explanation: str) -> Decision:
    """`decision` with `chosen` moved to the front of the try order."""
    order = (chosen.entry, *(e for e in decision.order if e.id != chosen.entry.id))
    return dataclasses.replace(decision, chosen=chosen.entry, order=order, reason=reason,
                               explanation=explanation)


def _frontier_gain(pool: Sequence[Assessment], weight: float, cap: float) -> tuple[float, float]:
    """(best frontier utility - best non-frontier utility, the best frontier candidate's cost)."""
    frontier = [a for a in pool if a.frontier]
    other = [a for a in pool if not a.frontier]
    if not frontier:
        return -math.inf, 0.0
    best = max(frontier, key=lambda a: utility(a, weight, cap))
    if not other:
        return math.inf, best.est_cost
    return utility(best, weight, cap) - max(utility(a, weight, cap) for a in other), best.est_cost


def _objective(cfg: RoutingConfig, name: str | None) -> tuple[str, RankingObjective]:
    try:
        return cfg.objective(name)
    except KeyError:
        raise InvalidRequest(f"unknown routing objective {name!r}; this router has: "
                             f"{', '.join(sorted(cfg.objectives))}", param="x-stellwerk-objective") from None
