"""Prometheus metrics of the router, in a registry the app owns (no module globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from cluster.telemetry import TelemetrySnapshot

__all__ = ["RouterMetrics"]

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
