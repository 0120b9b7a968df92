"""`serving.replica_stream` (what a chat replica sends through its handle) and the replica's span
(`serving.replica_tracing`), without Ray or vLLM."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from serving import replica_tracing
from serving.engine import ChatChunk, ToolCallDelta, Usage
from serving.replica_stream import ReplicaError, deltas_of, error_of, paced_batches


def sse(payload: object) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def test_vllms_sse_events_become_typed_deltas() -> None:
    text = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}]}
    call = {"choices": [{"index": 0, "finish_reason": "tool_calls", "delta": {"tool_calls": [
        {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}]}
    usage = {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}

    assert deltas_of(sse(text)) == [ChatChunk(text="Hi", role="assistant")]
    piece = ToolCallDelta(0, id="c1", name="f", arguments="{}")
    assert deltas_of(sse(call)) == [ChatChunk(finish_reason="tool_calls", tool_calls=(piece,))]
    assert deltas_of(sse(usage)) == [ChatChunk(usage=Usage(prompt_tokens=5, completion_tokens=1))]
    assert deltas_of("data: [DONE]\n\n") == []


def test_errors_and_bad_chunks_become_replica_errors() -> None:
    assert deltas_of(sse({"error": {"message": "too long", "type": "BadRequestError", "code": 400}})) == [
        ReplicaError("too long", 400, "BadRequestError")]
    [bad] = deltas_of("data: {not json\n\n")
    assert isinstance(bad, ReplicaError) and bad.code == 502 and "malformed" in bad.message
    [failed] = deltas_of(sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "abort"}]}))
    assert isinstance(failed, ReplicaError) and failed.code == 502
    assert error_of({"message": "x", "code": True}) == ReplicaError("x", 500)
    assert error_of("boom") == ReplicaError("boom", 500)


async def _ticks(times: list[float]) -> AsyncIterator[int]:
    """Items 0, 1, ... each after its delay."""
    for i, delay in enumerate(times):
        await asyncio.sleep(delay)
        yield i


async def test_the_first_item_is_sent_alone_and_at_once_then_items_are_paced() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    batches: list[tuple[list[int], float]] = []
    # item 0 at once, then 1..5 arrive within the first interval, 6 well after it
    async for batch in paced_batches(_ticks([0, 0.001, 0, 0, 0, 0, 0.5]), interval_s=0.2):
        batches.append((batch, loop.time() - started))

    assert [b for b, _ in batches] == [[0], [1, 2, 3, 4, 5], [6]]
    assert batches[0][1] < 0.1  # not held back for an interval
    assert batches[1][1] >= 0.2  # the rest waited for the interval


async def test_an_error_of_the_source_reaches_the_consumer_after_what_came_before() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("engine broke")

    seen: list[list[int]] = []
    with pytest.raises(RuntimeError, match="engine broke"):
        async for batch in paced_batches(failing(), interval_s=0):
            seen.append(batch)
    assert [x for b in seen for x in b] == [1]


async def test_closing_the_batches_stops_the_source() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
                await asyncio.sleep(0.001)
        finally:
            closed.set()

    batches = paced_batches(endless(), interval_s=0.01)
    assert await anext(batches) == [0]
    await batches.aclose()  # type: ignore[attr-defined]
    assert closed.is_set()


def test_the_replica_span_joins_the_routers_trace_and_is_handed_to_vllm(
        monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(replica_tracing, "replica_tracer", lambda: provider.get_tracer("test"))
    router_span = provider.get_tracer("router").start_span("chat gemma-3-270m")
    router_context = router_span.get_span_context()
    incoming = {"traceparent": f"00-{trace.format_trace_id(router_context.trace_id)}-"
                               f"{trace.format_span_id(router_context.span_id)}-01", "cookie": "x"}

    with replica_tracing.replica_span("gemma-3-270m", incoming) as outgoing:
        pass

    [span] = exporter.get_finished_spans()
    assert span.name == "stellwerk.replica chat gemma-3-270m"
    assert span.context.trace_id == router_context.trace_id
    assert span.parent is not None and span.parent.span_id == router_context.span_id
    assert outgoing == {"traceparent": f"00-{trace.format_trace_id(router_context.trace_id)}-"
                                       f"{trace.format_span_id(span.context.span_id)}-01"}


def test_without_a_tracer_the_routers_context_is_handed_on_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replica_tracing, "replica_tracer", lambda: None)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    with replica_tracing.replica_span("m", {"traceparent": parent, "authorization": "k"}) as outgoing:
        assert outgoing == {"traceparent": parent}
    with replica_tracing.replica_span("m", None) as outgoing:
        assert outgoing == {}


def test_a_cancelled_stream_is_marked_cancelled_and_a_failure_is_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(replica_tracing, "replica_tracer", lambda: provider.get_tracer("test"))
    parent = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}

    with pytest.raises(GeneratorExit), replica_tracing.replica_span("m", parent):
        raise GeneratorExit
    with pytest.raises(RuntimeError), replica_tracing.replica_span("m", parent):
        raise RuntimeError("engine broke")

    cancelled, failed = exporter.get_finished_spans()
    assert cancelled.attributes is not None and cancelled.attributes["stellwerk.cancelled"] is True
    assert cancelled.status.is_unset
    assert failed.status.status_code.name == "ERROR"
