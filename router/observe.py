"""Connects the metrics to what they watch: servable models, routing health, the ledger writer."""

from __future__ import annotations

from router.metrics import ModelHealth, RouterMetrics
from router.registry import ModelRegistry
from router.routing.service import RoutingService
from router.tenancy.service import TenancyService

__all__ = ["observe"]


def observe(metrics: RouterMetrics, registry: ModelRegistry, routing: RoutingService,
            tenancy: TenancyService) -> None:
    """Publish model info, health gauges read at scrape time, and ledger commit metrics."""
    metrics.describe_models(m.entry for m in registry.servable())

    def health() -> dict[str, ModelHealth]:
        models = routing.status()["models"]
        return {model_id: ModelHealth(breaker_open=routing.health.unhealthy_reason(model_id) is not None,
                                      unhealthy=state["unhealthy"] is not None)
                for model_id, state in models.items()}

    metrics.watch_health(health)
    tenancy.writer.add_listener(metrics.record_ledger_commit)
