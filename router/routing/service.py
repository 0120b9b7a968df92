"""`RoutingService`: features → candidates → scores → decision, with the live state routing keeps.

It ties the parts of this package together for the chat endpoints: the hot-reloaded configuration, the
request features (task category, quality estimate), the quality table, live load and the TTFT model,
the per-model circuit breakers, spillover hysteresis, Prometheus counters and the decision log. The
endpoints call `decide` for `model: auto`, `check_allowed` for a named model, and wrap each engine call
in a `Dispatch` so that queue depth and measured TTFTs flow back into the next decision.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cluster.telemetry import TelemetrySnapshot
from models.catalogue import ModelEntry
from router.features.request_features import RequestFeatures
from router.hot_reload import ConfigHolder
from router.metrics import RouterMetrics
from router.routing.candidates import CandidatePolicy, Rejection, filter_candidates, policy_rejection
from router.routing.config import LocalOnlyObjective, Objective, RoutingConfig
from router.routing.decision import Assessment, Decision, rank
from router.routing.decision_log import DecisionLog
from router.routing.health import HealthTracker
from router.routing.latency import LatencyModel
from router.routing.load import LoadView
from router.routing.spillover import SpilloverState
from router.schemas import ChatCompletionRequest
from router.tracing import current_trace_id, span
from router.tracing_attributes import decision_attributes, feature_attributes
from serving.errors import EngineUnavailable, InvalidRequest, NotAllowed, StellwerkError

__all__ = ["Dispatch", "FeatureSource", "QualityScores", "RoutingService"]

logger = logging.getLogger(__name__)

RECENT_DECISIONS = 200  # kept in memory for the operator console


class FeatureSource(Protocol):
    def extract(self, request: ChatCompletionRequest) -> RequestFeatures: ...


class QualityScores(Protocol):
    def score(self, model_id: str, category: str) -> float | None: ...


@dataclass
class Dispatch:
    """One engine call's place in the load view; `first_token` and `close` feed the TTFT model."""

    entry: ModelEntry
    queued: int
    _service: RoutingService = field(repr=False)
    _started: float = field(default_factory=time.perf_counter)
    _open: bool = True

    def first_token(self) -> None:
        """The engine's first token arrived: learn its TTFT (from this dispatch, not the request)."""
        ttft = time.perf_counter() - self._started
        self._service.latency.observe(self.entry.id, ttft, self.queued, local=self.entry.kind == "local")

    def close(self) -> None:
        if self._open:
            self._open = False
            self._service.load.finished(self.entry.id)


class RoutingService:
    def __init__(
        self,
        config: ConfigHolder[RoutingConfig],
        features: FeatureSource,
        quality: QualityScores,
        candidates: Callable[[], Sequence[ModelEntry]],
        snapshot: Callable[[], TelemetrySnapshot],
        metrics: RouterMetrics,
        *,
        decision_log: DecisionLog | None = None,
    ) -> None:
        self.config = config
        self._features = features
        self._quality = quality
        self._candidates = candidates
        self._metrics = metrics
        cfg = config.current
        self.load = LoadView(snapshot)
        self.latency = LatencyModel(cfg.latency)
        self.health = HealthTracker(cfg.fallback.failure_threshold, cfg.fallback.cooldown_s)
        self.spillover = SpilloverState(cfg.spillover)
        self._log = decision_log or (DecisionLog(cfg.decision_log) if cfg.decision_log else None)
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_DECISIONS)
        config.on_change(self._reconfigure)
        metrics.config_version.set(config.version)

    def _reconfigure(self, cfg: RoutingConfig) -> None:
        self._metrics.config_version.set(self.config.version)
        self.latency.set_priors(cfg.latency)
        self.health.configure(cfg.fallback.failure_threshold, cfg.fallback.cooldown_s)
        self.spillover.configure(cfg.spillover)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()

    # -- decisions -------------------------------------------------------------------------------

    async def features(self, request: ChatCompletionRequest) -> RequestFeatures:
        """The request's features (the classifier runs in a worker thread: it is CPU work)."""
        with span("stellwerk.features") as current:
            features = await asyncio.to_thread(self._features.extract, request)
            current.set_attributes(feature_attributes(features))
            return features

    async def decide(self, request: ChatCompletionRequest, objective_name: str | None, *,
                     request_id: str, policies: Sequence[CandidatePolicy] = (),
                     dry_run: bool = False) -> Decision:
        with span("stellwerk.route") as current:
            decision = await self._decide(request, objective_name, request_id=request_id,
                                          policies=policies, dry_run=dry_run)
            current.set_attributes(decision_attributes(decision))
            return decision

    async def _decide(self, request: ChatCompletionRequest, objective_name: str | None, *,
                      request_id: str, policies: Sequence[CandidatePolicy], dry_run: bool) -> Decision:
        cfg = self.config.current  # one version for the whole decision
        name, objective = _objective(cfg, objective_name)
        features = await self.features(request)
        filtered = filter_candidates(self._candidates(), features, [cfg.policy, *policies], self._unhealthy)
        allowed, rejected = list(filtered.allowed), list(filtered.rejected)
        if isinstance(objective, LocalOnlyObjective):
            rejected += [Rejection(m.id, "objective", "not local") for m in allowed if m.kind != "local"]
            allowed = [m for m in allowed if m.kind == "local"]
            if not allowed:
                raise EngineUnavailable(f"objective {name!r} needs a local model, and none is available")
        assessed = [self._assess(m, name, objective, features, cfg, commit=not dry_run) for m in allowed]
        decision = rank(name, objective, features, assessed, rejected)
        if not dry_run:
            self._metrics.routes.labels(decision.chosen.id, decision.reason).inc()
            for a in assessed:
                if a.local and getattr(objective, "ttft_target_s", None) is not None:
                    self._metrics.spilling.labels(a.entry.id, name).set(int(a.overloaded))
        if not dry_run:  # for the operator console (no prompt text: features and candidates only)
            self.recent.append({"ts": time.time(), "request_id": request_id, "trace_id": current_trace_id(),
                                **decision.to_json()})
        if self._log is not None:
            self._log.record(request_id, decision.to_json(), dry_run=dry_run, trace_id=current_trace_id())
        return decision

    def check_allowed(self, entry: ModelEntry, policies: Sequence[CandidatePolicy] = ()) -> None:
        """Raise `NotAllowed` (403) if policy forbids the model a request names."""
        reason = policy_rejection([self.config.current.policy, *policies], entry)
        if reason is not None:
            raise NotAllowed(f"model {entry.id!r} may not be used: {reason}", param="model")

    def max_attempts(self) -> int:
        return self.config.current.fallback.max_attempts

    def _assess(self, entry: ModelEntry, objective_name: str, objective: Objective,
                f: RequestFeatures, cfg: RoutingConfig, *, commit: bool) -> Assessment:
        local = entry.kind == "local"
        queued = self.load.queued(entry.id) if local else 0
        predicted = self.latency.predict(entry.id, queued, local=local)
        target = getattr(objective, "ttft_target_s", None)
        gpu_note = self._gpus_saturated(entry, queued, cfg) if local else None
        overloaded = False
        if local and target is not None:
            # Saturated GPUs count as a missed target, so they enter (and leave) the same hysteresis.
            signal = max(predicted, target * 1.01) if gpu_note else predicted
            overloaded = self.spillover.overloaded(entry.id, objective_name, signal, target, commit=commit)
        out_tokens = f.max_tokens or cfg.expected_output_tokens
        price = entry.pricing
        cost = (f.prompt_tokens * price.input_per_mtok + out_tokens * price.output_per_mtok) / 1e6
        quality = self._quality.score(entry.id, f.category)
        return Assessment(entry, quality, cost, predicted, queued, overloaded, gpu_note)

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
        if reason is None and entry.kind == "local":
            error = self.load.engine_error(entry.id)
            if error is not None:
                reason = f"engine not ready: {error}"
        return reason

    # -- outcomes --------------------------------------------------------------------------------

    def dispatch(self, entry: ModelEntry) -> Dispatch:
        return Dispatch(entry, self.load.started(entry.id), self)

    def failed(self, entry: ModelEntry, error: StellwerkError) -> None:
        self.health.failed(entry.id, error.code or error.error_type)

    def succeeded(self, entry: ModelEntry) -> None:
        self.health.succeeded(entry.id)

    def status(self) -> dict[str, Any]:
        cfg = self.config.current
        models = {}
        for entry in self._candidates():
            local = entry.kind == "local"
            est = self.latency.estimate(entry.id, local=local)
            models[entry.id] = {
                "queued": self.load.queued(entry.id) if local else None,
                "in_flight": self.load.in_flight(entry.id),
                "ttft_base_s": round(est.base_s, 4), "ttft_per_request_s": round(est.per_request_s, 4),
                "ttft_samples": est.samples, "unhealthy": self._unhealthy(entry)}
        return {"config": str(self.config.path), "config_version": self.config.version,
                "config_error": self.config.error, "default_objective": cfg.default_objective,
                "objectives": sorted(cfg.objectives),
                "spilling": [{"model": m, "objective": o} for m, o in self.spillover.spilling()],
                "models": models}


def _objective(cfg: RoutingConfig, name: str | None) -> tuple[str, Objective]:
    try:
        return cfg.objective(name)
    except KeyError:
        raise InvalidRequest(f"unknown routing objective {name!r}; this router has: "
                             f"{', '.join(sorted(cfg.objectives))}", param="x-stellwerk-objective") from None
