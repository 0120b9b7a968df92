"""OpenTelemetry traces of API requests: off unless the operator gives an OTLP/HTTP endpoint
(`stellwerk serve --otel-endpoint URL`, or STELLWERK_OTEL_ENDPOINT).

One trace per request, with GenAI semantic-convention attributes (`gen_ai.*`):

    POST /v1/chat/completions (server)      tenant, model requested/answered, tokens, finish reasons
    ├─ stellwerk.authenticate               the key → tenant
    ├─ stellwerk.policy                     rate limits, budget, sensitive-data screen
    ├─ stellwerk.route                      objective, reason, candidates in order, rejections
    │  └─ stellwerk.features                category, p_weak_ok, prompt tokens
    ├─ chat gemma-3-270m (client)           attempt 0: failed before its first byte (error.type)
    ├─ chat openai/gpt-4o-mini (client)     attempt 1 (a fallback is a sibling): the engine call, to
    │                                       the stream's end
    └─ stellwerk.ledger.commit              the ledger row, which carries the trace id

Prompt text is never recorded unless the operator opts in (`--otel-record-prompts`). The app owns its
`Tracing` (no global tracer provider): `TracingMiddleware` puts it in a context variable for the
request, and the functions below are no-ops where it is absent, so code on the request path calls them
unconditionally at no cost when tracing is off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ENDPOINT_ENV", "Tracing", "TracingMiddleware", "current_trace_id", "end_engine_span",
           "engine_context", "set_request_attributes", "span", "start_engine_span"]

ENDPOINT_ENV = "STELLWERK_OTEL_ENDPOINT"
_TRACED_PREFIX = "/v1/"

_TRACING: ContextVar[Tracing | None] = ContextVar("stellwerk_tracing", default=None)
_REQUEST_SPAN: ContextVar[Span] = ContextVar("stellwerk_request_span", default=trace.INVALID_SPAN)


class Tracing:
    """A tracer provider and the operator's choices; `shutdown` flushes what is queued."""

    def __init__(self, provider: TracerProvider, *, record_prompts: bool = False) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("stellwerk.router")
        self.record_prompts = record_prompts

    @classmethod
    def to_otlp(cls, endpoint: str, *, record_prompts: bool = False,
                service_name: str = "stellwerk-router") -> Tracing:
        """Export batches of spans over OTLP/HTTP (protobuf) to `endpoint` (a collector's base URL, or
        its full `/v1/traces` URL)."""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        url = endpoint if endpoint.rstrip("/").endswith("/v1/traces") else endpoint.rstrip("/") + "/v1/traces"
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
        return cls(provider, record_prompts=record_prompts)

    def shutdown(self) -> None:
        self.provider.shutdown()


class TracingMiddleware:
    """Starts each API request's server span (continuing a caller's W3C `traceparent`) and makes the
    app's `Tracing` current for everything the request runs."""

    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_TRACED_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        parent = TraceContextTextMapPropagator().extract(headers)
        name = f"{scope['method']} {scope['path']}"
        with self.tracing.tracer.start_as_current_span(
                name, context=parent, kind=SpanKind.SERVER,
                attributes={"http.request.method": scope["method"], "url.path": scope["path"]}) as root:
            tokens = (_TRACING.set(self.tracing), _REQUEST_SPAN.set(root))

            async def send_observed(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    root.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        root.set_status(Status(StatusCode.ERROR))
                await send(message)

            try:
                await self.app(scope, receive, send_observed)
            finally:
                _REQUEST_SPAN.reset(tokens[1])
                _TRACING.reset(tokens[0])


@contextmanager
def span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> Iterator[Span]:
    """A child span of the current one (a no-op span when tracing is off). Errors raised inside are
    recorded on it."""
    tracing = _TRACING.get()
    if tracing is None:
        yield trace.INVALID_SPAN
        return
    with tracing.tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def set_request_attributes(attributes: Mapping[str, AttributeValue]) -> None:
    """Attributes of the request's server span (no-op when tracing is off)."""
    _REQUEST_SPAN.get().set_attributes(attributes)


def current_trace_id() -> str | None:
    """The current request's trace id (32 hex digits), or None when tracing is off."""
    if _TRACING.get() is None:
        return None
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


def start_engine_span(model: str, provider: str, request: Mapping[str, Any], *, attempt: int,
                      route: str) -> Span:
    """The span of one attempt at one model: the engine call, ended by `end_engine_span`. Attempts
    are siblings under the request span."""
    tracing = _TRACING.get()
    if tracing is None:
        return trace.INVALID_SPAN
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": model, "gen_ai.provider.name": provider,
        "gen_ai.system": provider, "stellwerk.attempt": attempt, "stellwerk.route.reason": route}
    for field in ("max_tokens", "temperature", "top_p", "seed"):
        if isinstance(request.get(field), int | float):
            attributes[f"gen_ai.request.{field}"] = request[field]
    if tracing.record_prompts:  # the operator opted in; never by default
        attributes["gen_ai.input.messages"] = json.dumps(request.get("messages", []), ensure_ascii=False)
    return tracing.tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes)


@contextmanager
def engine_context(engine_span: Span) -> Iterator[None]:
    """Make an attempt's span current while its engine call starts, so that engines which propagate
    the context (Ray replicas: `serving.ray_engine`) put their spans under it. Does not end it."""
    if not engine_span.get_span_context().is_valid:
        yield
        return
    with trace.use_span(engine_span, end_on_exit=False, record_exception=False,
                        set_status_on_exception=False):
        yield


def end_engine_span(engine_span: Span, *, response_id: str, model: str, status: int, error: str | None,
                    usage: tuple[int, int] | None, finish_reasons: Sequence[str]) -> None:
    """End an attempt's span with its outcome; the request span takes the answer's model and usage."""
    attributes: dict[str, AttributeValue] = {
        "gen_ai.response.id": response_id, "gen_ai.response.model": model, "stellwerk.status": status}
    if usage is not None:
        attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"] = usage
    if finish_reasons:
        attributes["gen_ai.response.finish_reasons"] = list(finish_reasons)
    if error is not None:
        attributes["error.type"] = error
        engine_span.set_status(Status(StatusCode.ERROR, error))
    engine_span.set_attributes(attributes)
    engine_span.end()
    if error is None:  # the attempt that answered describes the request (failed ones keep their own)
        set_request_attributes({k: v for k, v in attributes.items() if k != "stellwerk.status"})
