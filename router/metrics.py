"""Prometheus metrics of the router, in a registry the app owns (no module globals).

The Grafana dashboard and the alert rules in `cluster/observability/` query these names; their test
(tests/e2e/test_observability_prometheus.py) runs every query against a real Prometheus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cluster.telemetry import TelemetrySnapshot
from models.catalogue import ModelEntry
from router.registry import AUTO
from router.store import LedgerRecord
from router.store.sync_health import SyncHealth

__all__ = ["ModelHealth", "RouterMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)


class RouterMetrics:
    """Requests, errors, latency, time to first token and tokens, labelled by model and endpoint; and
    the load gauges of engines and GPUs, set from each telemetry sample (`record_telemetry`).

    Labels carry only catalogue ids, endpoint names and status codes: never anything a client typed.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter("stellwerk_requests", "Requests answered, by final status.",
                                ["endpoint", "model", "status"], registry=r)
        self.errors = Counter("stellwerk_request_errors", "Requests that ended in an error.",
                              ["endpoint", "model", "type"], registry=r)
        self.latency = Histogram("stellwerk_request_latency_seconds", "Request start to last byte.",
                                 ["endpoint", "model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("stellwerk_time_to_first_token_seconds", "Request start to first token.",
                              ["model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("stellwerk_tokens", "Tokens processed, by kind (prompt, completion).",
                              ["model", "kind"], registry=r)
        self.in_flight = Gauge("stellwerk_requests_in_flight", "Requests being answered now.",
                               ["endpoint", "model"], registry=r)
        self.cost = Counter("stellwerk_cost", "Cost of answered requests, in the catalogue's currency.",
                            ["model", "provider", "currency"], registry=r)
        self.routes = Counter("stellwerk_route_decisions", "Models chosen for model=auto, by reason.",
                              ["model", "reason"], registry=r)
        self.fallbacks = Counter("stellwerk_route_fallbacks",
                                 "model=auto attempts that failed before the first byte, by model and error.",
                                 ["model", "error"], registry=r)
        self.spilling = Gauge("stellwerk_route_spilling",
                              "1 while a local model is skipped for load under an objective.",
                              ["model", "objective"], registry=r)
        self.config_version = Gauge("stellwerk_routing_config_version",
                                    "Version of the routing configuration in use (1 at start).", registry=r)
        self.engine = _EngineGauges(r)
        self.gpu = _GpuGauges(r)
        self.model_info = Gauge("stellwerk_model_info",
                                "1 per servable model, with its provider and kind (local, remote): join "
                                "other series on `model` to group them by provider or kind.",
                                ["model", "provider", "kind"], registry=r)
        self.ledger = _LedgerMetrics(r)

    def describe_models(self, entries: Iterable[ModelEntry]) -> None:
        """Publish `stellwerk_model_info` for the servable models."""
        self.model_info.clear()
        ids = set()
        for e in entries:
            self.model_info.labels(e.id, e.provider, e.kind).set(1)
            ids.add(e.id)
        self.ledger.known_models = frozenset(ids)

    def record_request(self, endpoint: str, model: str, status: int, latency_s: float,
                       error_type: str | None = None, prompt_tokens: int = 0) -> None:
        """One request answered or failed: its status, latency, error type and prompt tokens (the chat
        run adds completion tokens and cost on its own)."""
        self.requests.labels(endpoint, model, str(status)).inc()
        self.latency.labels(endpoint, model).observe(latency_s)
        if error_type is not None:
            self.errors.labels(endpoint, model, error_type).inc()
        if prompt_tokens:
            self.tokens.labels(model, "prompt").inc(prompt_tokens)

    def record_ledger_commit(self, records: Sequence[LedgerRecord], seconds: float,
                             error: BaseException | None) -> None:
        """A `LedgerWriter` listener: one batch committed (or not) in `seconds`. Per-tenant figures
        are counted from the rows as they commit, so they agree with `stellwerk costs`."""
        self.ledger.record(records, seconds, error)

    def watch_health(self, source: Callable[[], Mapping[str, ModelHealth]]) -> None:
        """Publish each chat model's breaker and routing health, read from `source` at every scrape."""
        self.registry.register(_HealthCollector(source))

    def watch_shared_state(self, source: Callable[[], Iterable[SyncHealth]]) -> None:
        """Publish whether each part of the cluster-wide state reaches the database, read at every scrape."""
        self.registry.register(_SharedStateCollector(source))

    def record_telemetry(self, snapshot: TelemetrySnapshot) -> None:
        """Set the load gauges to a telemetry sample. Engines whose stats are unknown and GPUs that did
        not answer have no series in it, rather than their last value."""
        self.engine.record(snapshot)
        self.gpu.record(snapshot)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _EngineGauges:
    def __init__(self, r: CollectorRegistry) -> None:
        self.running = Gauge("stellwerk_engine_requests_running", "Requests the engine is running now.",
                             ["model"], registry=r)
        self.waiting = Gauge("stellwerk_engine_requests_waiting", "Requests queued in the engine.",
                             ["model"], registry=r)
        self.kv_cache = Gauge("stellwerk_engine_kv_cache_usage", "Fraction of the engine's KV cache in use.",
                              ["model"], registry=r)
        self.replicas = Gauge("stellwerk_engine_replicas", "Running replicas of the model.",
                              ["model"], registry=r)

    def record(self, snapshot: TelemetrySnapshot) -> None:
        for gauge in (self.running, self.waiting, self.kv_cache, self.replicas):
            gauge.clear()
        for model_id, stats in snapshot.engines.items():
            if stats is None:
                continue
            self.running.labels(model_id).set(stats.running)
            self.waiting.labels(model_id).set(stats.waiting)
            self.replicas.labels(model_id).set(stats.replicas)
            if stats.kv_cache_usage is not None:
                self.kv_cache.labels(model_id).set(stats.kv_cache_usage)


class _GpuGauges:
    def __init__(self, r: CollectorRegistry) -> None:
        self.utilization = Gauge("stellwerk_gpu_utilization_percent", "GPU busy time over the last sample.",
                                 ["gpu"], registry=r)
        self.memory_used = Gauge("stellwerk_gpu_memory_used_bytes", "GPU memory in use.", ["gpu"], registry=r)
        self.memory_total = Gauge("stellwerk_gpu_memory_total_bytes", "GPU memory.", ["gpu"], registry=r)
        self.power = Gauge("stellwerk_gpu_power_watts", "GPU power draw.", ["gpu"], registry=r)
        self.temperature = Gauge("stellwerk_gpu_temperature_celsius", "GPU temperature.", ["gpu"], registry=r)

    def record(self, snapshot: TelemetrySnapshot) -> None:
        for gauge in (self.utilization, self.memory_used, self.memory_total, self.power, self.temperature):
            gauge.clear()
        for g in snapshot.gpus:
            gpu = str(g.index)
            self.utilization.labels(gpu).set(g.utilization_pct)
            self.memory_used.labels(gpu).set(g.memory_used_bytes)
            self.memory_total.labels(gpu).set(g.memory_total_bytes)
            if g.power_watts is not None:
                self.power.labels(gpu).set(g.power_watts)
            if g.temperature_c is not None:
                self.temperature.labels(gpu).set(g.temperature_c)


# Refusals: requests turned away before any model ran (ledger rows without a provider), by status.
_REFUSAL_STATUSES = frozenset({403, 429})
OTHER_MODEL = "other"  # the per-tenant label of a model name that is not a servable catalogue id


class _LedgerMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.commit_seconds = Histogram(
            "stellwerk_ledger_commit_seconds",
            "Time to commit one batch of ledger rows (one transaction, retries included).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=r)
        self.records = Counter("stellwerk_ledger_records", "Ledger rows by outcome (committed, failed).",
                               ["outcome"], registry=r)
        self.tenant_requests = Counter("stellwerk_tenant_requests", "Requests in the ledger, by tenant.",
                                       ["tenant", "model", "status"], registry=r)
        self.tenant_tokens = Counter("stellwerk_tenant_tokens", "Tokens in the ledger, by tenant and kind.",
                                     ["tenant", "model", "kind"], registry=r)
        self.tenant_cost = Counter("stellwerk_tenant_cost", "Cost in the ledger, by tenant.",
                                   ["tenant", "model", "currency"], registry=r)
        self.refusals = Counter("stellwerk_refusals",
                                "Requests refused before any model ran (rate limit, budget, policy, "
                                "sensitive data), by tenant and reason.", ["tenant", "reason"], registry=r)
        for outcome in ("committed", "failed"):  # both series exist from the start (alerts use rate)
            self.records.labels(outcome)
        # A row keeps the model name the request gave (a 404 for a name the client made up, too); the
        # labels take only servable catalogue ids and `auto`, so no client can grow the series.
        self.known_models: frozenset[str] = frozenset()

    def record(self, records: Sequence[LedgerRecord], seconds: float, error: BaseException | None) -> None:
        self.commit_seconds.observe(seconds)
        if error is not None:
            self.records.labels("failed").inc(len(records))
            return
        self.records.labels("committed").inc(len(records))
        for rec in records:
            model = rec.model if rec.model in self.known_models or rec.model == AUTO else OTHER_MODEL
            self.tenant_requests.labels(rec.tenant, model, str(rec.status)).inc()
            self.tenant_tokens.labels(rec.tenant, model, "prompt").inc(rec.prompt_tokens)
            self.tenant_tokens.labels(rec.tenant, model, "completion").inc(rec.completion_tokens)
            self.tenant_cost.labels(rec.tenant, model, rec.currency).inc(rec.cost)
            if not rec.provider and rec.status in _REFUSAL_STATUSES:
                self.refusals.labels(rec.tenant, rec.error_type or str(rec.status)).inc()


@dataclass(frozen=True)
class ModelHealth:
    """A chat model's health as routing sees it: its circuit breaker is open (it failed too often in a
    row and rests), and whether `auto` skips it now for any reason (breaker, engine not ready)."""

    breaker_open: bool
    unhealthy: bool


class _HealthCollector(Collector):
    def __init__(self, source: Callable[[], Mapping[str, ModelHealth]]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        breaker = GaugeMetricFamily("stellwerk_breaker_open",
                                    "1 while the model's circuit breaker is open (auto skips it).",
                                    labels=["model"])
        unhealthy = GaugeMetricFamily("stellwerk_model_unhealthy",
                                      "1 while auto routing skips the model as unhealthy (open breaker, "
                                      "engine not ready).", labels=["model"])
        for model_id, health in sorted(self._source().items()):
            breaker.add_metric([model_id], int(health.breaker_open))
            unhealthy.add_metric([model_id], int(health.unhealthy))
        yield breaker
        yield unhealthy


class _SharedStateCollector(Collector):
    def __init__(self, source: Callable[[], Iterable[SyncHealth]]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        reachable = GaugeMetricFamily(
            "stellwerk_shared_state_reachable",
            "1 while this router's cluster-wide state (rate limits, routing state) reaches the database, "
            "0 while it runs on its own (no series before the first exchange).", labels=["state"])
        age = GaugeMetricFamily("stellwerk_shared_state_sync_age_seconds",
                                "Seconds since this router's last successful exchange of the state with "
                                "the database.", labels=["state"])
        for health in self._source():
            if health.reachable is not None:
                reachable.add_metric([health.name], int(health.reachable))
            last = health.last_sync_age_s()
            if last is not None:
                age.add_metric([health.name], last)
        yield reachable
        yield age
