"""The replica's part of a request's trace: a span under the router's attempt span, handed on to vLLM.

The router sends its W3C trace context (`traceparent`, `tracestate`) with each call through the Serve
handle (`serving.ray_engine`). When the replica's process has an OTLP endpoint (`STELLWERK_OTEL_ENDPOINT`,
which Ray workers started by `stellwerk serve --otel-endpoint` inherit; on a cluster, set it in the
pods' or the application's environment) it records `stellwerk.replica chat <model>` as a child of that
context and exports it itself; either way, the context handed to vLLM (`trace_headers` of its
`generate`, used by vLLM's own request spans when its `otlp_traces_endpoint` is set) is the replica
span's, or the router's unchanged when the replica does not trace. No prompt text is recorded.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["ENDPOINT_ENV", "TRACE_HEADERS", "current_trace_headers", "enable_engine_tracing", "replica_span",
           "replica_tracer", "traces_url"]

ENDPOINT_ENV = "STELLWERK_OTEL_ENDPOINT"
TRACE_HEADERS = ("traceparent", "tracestate")
_PROPAGATOR = TraceContextTextMapPropagator()


@functools.cache
def replica_tracer() -> Tracer | None:
    """This process's tracer, exporting over OTLP/HTTP, or None when no endpoint is configured."""
    endpoint = os.environ.get(ENDPOINT_ENV)
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "stellwerk-replica"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint))))
    return provider.get_tracer("stellwerk.replica")


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector endpoint (`http://host:4318` or the full `/v1/traces`)."""
    return endpoint if endpoint.rstrip("/").endswith("/v1/traces") else endpoint.rstrip("/") + "/v1/traces"


def enable_engine_tracing(observability_config: Any) -> None:
    """Turn on vLLM's own request spans (`llm_request`, a child of the context in `trace_headers`) in
    this process's engine when it has an OTLP endpoint, exported over OTLP/HTTP like ours."""
    endpoint = os.environ.get(ENDPOINT_ENV)
    if not endpoint or observability_config.otlp_traces_endpoint is not None:
        return
    # vLLM's exporter speaks gRPC unless told otherwise; the endpoint is OTLP/HTTP.
    os.environ.setdefault("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
    observability_config.otlp_traces_endpoint = traces_url(endpoint)


@contextmanager
def replica_span(model: str, headers: Mapping[str, str] | None) -> Iterator[dict[str, str]]:
    """Within: the trace headers to hand to the engine (empty when the router sent none)."""
    incoming = {k: v for k, v in (headers or {}).items() if k in TRACE_HEADERS}
    tracer = replica_tracer() if incoming else None
    if tracer is None:
        yield incoming
        return
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model}
    # NOTE: not made current: the stream is an async generator whose steps may run in different
    # contexts, and detaching a context attached in another one fails.
    span = tracer.start_span(f"stellwerk.replica chat {model}", context=_PROPAGATOR.extract(incoming),
                             kind=SpanKind.SERVER, attributes=attributes)
    outgoing: dict[str, str] = {}
    _PROPAGATOR.inject(outgoing, context=trace.set_span_in_context(span))
    try:
        yield outgoing
    except (GeneratorExit, asyncio.CancelledError):  # the caller went away: not the replica's error
        span.set_attribute("stellwerk.cancelled", True)
        raise
    except BaseException as exc:
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        span.end()


def current_trace_headers() -> dict[str, str]:
    """The current context's W3C trace headers (empty when no span is recording or valid)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier
