"""OpenTelemetry traces of requests, with the SDK's in-memory exporter: one trace per request with the
authentication, policy, features, decision, each attempt (fallbacks as siblings), the engine call and
the ledger commit; GenAI attribute names; no prompt text unless opted in; the trace id in the ledger row
and the decision log; off by default."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, format_trace_id

from router.tracing import Tracing
from serving.errors import EngineFailed
from tests.fakes import FakeChatEngine, asgi_client, parse_sse
from tests.tenancy_fakes import TenantApp, tenant_app

GEMMA, MINI = "gemma-3-270m", "openai/gpt-4o-mini"
PROMPT = "zebra quartz umbrella secret words"
TENANTS = "tenants:\n  acme: {}\n"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"  # a caller's W3C trace context


def traced_app(tmp_path: Path, *, record_prompts: bool = False,
                 tracing: bool = True) -> tuple[TenantApp, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    engines = [FakeChatEngine(GEMMA, error=EngineFailed("scripted failure")), FakeChatEngine(MINI)]
    extra: dict[str, Any] = {"tracing": Tracing(provider, record_prompts=record_prompts)} if tracing else {}
    fake = tenant_app(tmp_path, TENANTS, engines, decision_log=tmp_path / "decisions.jsonl", **extra)
    return fake, exporter


def by_name(spans: Sequence[ReadableSpan]) -> dict[str, ReadableSpan]:
    named = {s.name: s for s in spans}
    assert len(named) == len(spans), [s.name for s in spans]
    return named


def trace_ids(ts: TenantApp) -> list[str | None]:
    with ts.db.read() as cur:
        return [row[0] for row in cur.fetchall("SELECT trace_id FROM ledger ORDER BY ts_us")]


def body(stream: bool = False) -> dict[str, Any]:
    return {"model": "auto", "stream": stream, "messages": [{"role": "user", "content": PROMPT}]}


async def test_one_trace_per_request_with_every_step(tmp_path: Path) -> None:
    ts, exporter = traced_app(tmp_path)
    key = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        reply = await client.post("/v1/chat/completions", json=body(),
                                  headers={"authorization": f"Bearer {key}"})
    assert reply.status_code == 200 and reply.headers["x-stellwerk-model"] == MINI
    spans = exporter.get_finished_spans()
    assert len({s.context.trace_id for s in spans}) == 1
    s = by_name(spans)
    root = s["POST /v1/chat/completions"]
    assert root.kind == SpanKind.SERVER and root.parent is None
    children = {n for n, sp in s.items()
                if sp.parent is not None and sp.parent.span_id == root.context.span_id}
    assert children == {"stellwerk.authenticate", "stellwerk.policy", "stellwerk.route", f"chat {GEMMA}",
                        f"chat {MINI}", "stellwerk.ledger.commit"}
    assert s["stellwerk.features"].parent.span_id == s["stellwerk.route"].context.span_id  # type: ignore[union-attr]

    route = s["stellwerk.route"].attributes or {}
    assert route["stellwerk.route.model"] == GEMMA
    assert list(route["stellwerk.route.candidates"])[:2] == [GEMMA, MINI]  # type: ignore[arg-type]
    assert s["stellwerk.features"].attributes["stellwerk.features.category"] == "general"  # type: ignore[index]

    failed, answered = s[f"chat {GEMMA}"], s[f"chat {MINI}"]
    assert failed.kind == answered.kind == SpanKind.CLIENT
    assert failed.status.status_code == StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "upstream_error"
    assert (failed.attributes or {})["stellwerk.attempt"] == 0
    a = answered.attributes or {}
    assert a["stellwerk.attempt"] == 1 and a["stellwerk.route.reason"] == "fallback"
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.model"] == MINI
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.usage.input_tokens"] == 5 and a["gen_ai.usage.output_tokens"] == 5
    assert list(a["gen_ai.response.finish_reasons"]) == ["stop"]  # type: ignore[arg-type]
    r = root.attributes or {}
    assert r["gen_ai.response.model"] == MINI and r["stellwerk.tenant"] == "acme"
    assert r["gen_ai.usage.output_tokens"] == 5 and "error.type" not in r  # the failed attempt's is its own
    assert r["http.response.status_code"] == 200

    texts = [str(v) for sp in spans for v in (sp.attributes or {}).values()]
    assert not any(word in t for t in texts for word in PROMPT.split()), "prompt text in a span"

    trace_id = format_trace_id(root.context.trace_id)
    assert trace_ids(ts) == [trace_id]
    ts.fake.app.state.services.routing.close()  # flushes the decision log
    decisions = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert [d["trace_id"] for d in decisions] == [trace_id]
    assert route["stellwerk.route.reason"] == decisions[0]["reason"]


async def test_streaming_ends_the_engine_span_with_the_stream(tmp_path: Path) -> None:
    ts, exporter = traced_app(tmp_path)
    key = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        reply = await client.post("/v1/chat/completions", json={**body(stream=True), "model": MINI},
                                  headers={"authorization": f"Bearer {key}", "traceparent": TRACEPARENT})
    assert parse_sse(reply.text)[-1] == "[DONE]"
    s = by_name(exporter.get_finished_spans())
    engine, commit = s[f"chat {MINI}"], s["stellwerk.ledger.commit"]
    assert engine.end_time is not None and commit.start_time is not None
    assert engine.end_time <= commit.start_time  # the stream ended before its row was committed
    assert (engine.attributes or {})["gen_ai.usage.output_tokens"] == 5
    root = s["POST /v1/chat/completions"]
    assert format_trace_id(root.context.trace_id) == "0af7651916cd43dd8448eb211c80319c"  # the caller's trace
    assert trace_ids(ts) == ["0af7651916cd43dd8448eb211c80319c"]


async def test_refusal_is_traced_and_its_ledger_row_has_the_trace(tmp_path: Path) -> None:
    ts, exporter = traced_app(tmp_path)
    async with asgi_client(ts.fake.app) as client:
        reply = await client.post("/v1/chat/completions", json=body(),
                                  headers={"authorization": "Bearer nope"})
    assert reply.status_code == 401
    s = by_name(exporter.get_finished_spans())
    assert s["stellwerk.authenticate"].status.status_code == StatusCode.ERROR
    assert (s["POST /v1/chat/completions"].attributes or {})["http.response.status_code"] == 401


async def test_prompt_text_only_when_the_operator_opts_in(tmp_path: Path) -> None:
    ts, exporter = traced_app(tmp_path, record_prompts=True)
    key = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        await client.post("/v1/chat/completions", json={**body(), "model": MINI},
                          headers={"authorization": f"Bearer {key}"})
    messages = json.loads(str((by_name(exporter.get_finished_spans())[f"chat {MINI}"].attributes or {})
                              ["gen_ai.input.messages"]))
    assert messages == [{"role": "user", "content": PROMPT}]


@pytest.mark.parametrize("stream", [False, True])
async def test_off_by_default(tmp_path: Path, stream: bool) -> None:
    ts, exporter = traced_app(tmp_path, tracing=False)
    key = ts.key("acme")
    async with asgi_client(ts.fake.app) as client:
        reply = await client.post("/v1/chat/completions", json=body(stream),
                                  headers={"authorization": f"Bearer {key}"})
    assert reply.status_code == 200
    assert exporter.get_finished_spans() == ()
    assert trace_ids(ts) == [None]
    ts.fake.app.state.services.routing.close()
    assert json.loads((tmp_path / "decisions.jsonl").read_text())["trace_id"] is None
