"""Prometheus metrics of the router, in a registry the app owns (no module globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["RouterMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)


class RouterMetrics:
    """Requests, errors, latency, time to first token and tokens, labelled by model and endpoint.

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

    def render(self) -> bytes:
        return generate_latest(self.registry)
