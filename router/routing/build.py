"""Assemble a `RoutingService` from the shipped (or given) configuration, quality table and classifier."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cluster.telemetry import TelemetrySampler
from models.catalogue import ModelEntry
from models.quality import QualityTable
from router.hot_reload import ConfigHolder
from router.metrics import RouterMetrics
from router.registry import ModelRegistry
from router.routing.config import DEFAULT_ROUTING_CONFIG_PATH, load_routing_config
from router.routing.decision_log import DecisionLog
from router.routing.health import HealthTracker
from router.routing.scale_wait import PoolReadiness, ScaleUpWait
from router.routing.service import (
    CategoryQuality,
    FeatureSource,
    FirstKnownQuality,
    QualityPredictor,
    RoutingService,
)
from router.routing.spillover import SpilloverState
from serving.errors import StellwerkError

__all__ = ["default_routing", "shipped_features", "shipped_quality"]

RoutingFactory = Callable[[TelemetrySampler, RouterMetrics], RoutingService]


def default_routing(
    registry: ModelRegistry,
    *,
    config_path: Path | None = None,
    features: FeatureSource | None = None,
    quality: QualityPredictor | None = None,
    decision_log: Path | None = None,
    classifier: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RoutingFactory:
    """A factory for `create_app`. Loads the configuration now (an invalid file fails here, before the
    router starts); the classifier and quality table default to the shipped ones (`classifier` names
    which packaged classifier: `router.features.classifiers`, default MiniLM). `decision_log`
    overrides the configuration's `decision_log` path; `clock` times the circuit breakers' cooldowns
    and spillover's hysteresis."""
    holder = ConfigHolder(config_path or DEFAULT_ROUTING_CONFIG_PATH, load_routing_config,
                          what="routing configuration")

    def build(telemetry: TelemetrySampler, metrics: RouterMetrics) -> RoutingService:
        cfg = holder.current
        log_path = decision_log or cfg.decision_log
        return RoutingService(
            holder,
            features or shipped_features(classifier),
            quality or shipped_quality(registry.chat_candidates(), classifier),
            registry.chat_candidates,
            telemetry.current,  # a decision's read wakes a sampler backed off while idle
            metrics,
            decision_log=DecisionLog(log_path) if log_path else None,
            wake=_waker(registry),
            scale_up=ScaleUpWait(_readiness(registry), telemetry.sample),
            health=HealthTracker(cfg.fallback.failure_threshold, cfg.fallback.cooldown_s, clock=clock),
            spillover=SpilloverState(cfg.spillover, clock=clock),
        )

    return build


def shipped_features(classifier: str | None = None) -> FeatureSource:
    """The packaged request classifier `classifier` (`router.features.classifiers`; default MiniLM)."""
    # Imported here: it loads the embedding model, which tests with scripted features skip.
    from router.features.classifiers import DEFAULT_CLASSIFIER, load_classifier

    return load_classifier(classifier or DEFAULT_CLASSIFIER)


def shipped_quality(entries: Sequence[ModelEntry], classifier: str | None = None) -> QualityPredictor:
    """The packaged per-prompt quality model for `entries` (descriptors from models/quality.yaml and
    the training data) of request classifier `classifier` (its abilities are on that classifier's
    scale), falling back to the category table where it has no prediction."""
    from router.features.classifiers import DEFAULT_CLASSIFIER
    from router.features.classifiers import classifier as named_classifier
    from router.quality.model import QualityModel
    from router.quality.predictor import QualityPredictor as PromptQuality

    table = QualityTable.load()
    model = QualityModel.load(named_classifier(classifier or DEFAULT_CLASSIFIER).quality_artifacts)
    return FirstKnownQuality(PromptQuality.from_catalogue(entries, table, model), CategoryQuality(table))


def _waker(registry: ModelRegistry) -> Callable[[ModelEntry], None]:
    """Wakes a local engine that can scale up from zero (`cluster.serve_engines.PoolChatEngine.wake`)."""
    def wake(entry: ModelEntry) -> None:
        try:
            _, engine = registry.chat_engine(entry.id)
        except StellwerkError:
            return
        wake_engine = getattr(engine, "wake", None)
        if callable(wake_engine):
            wake_engine()
    return wake


def _readiness(registry: ModelRegistry) -> PoolReadiness:
    """Whether a local pool has a ready replica (`cluster.serve_engines.PoolChatEngine.ready`); None for an
    engine that does not scale."""
    def ready(entry: ModelEntry) -> bool | None:
        try:
            _, engine = registry.chat_engine(entry.id)
        except StellwerkError:
            return None
        pool_ready = getattr(engine, "ready", None)
        return bool(pool_ready()) if callable(pool_ready) else None
    return ready
