"""`stellwerk bench` metrics: scripted streams with known timings through the real client and summaries."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import httpx
import pytest

from benchmarks.bench.client import RequestRecord, RequestSettings, chat_body, send_chat
from benchmarks.bench.metrics import SLO, meets_slo, percentile, summarize_step, tpot_s
from benchmarks.bench.prompts import Prompt


def _record(index: int, start: float, times: list[float], e2e: float, tokens: int | None = None,
            ok: bool = True, status: str = "200") -> RequestRecord:
    return RequestRecord(index=index, start_s=start, scheduled_s=start, max_tokens=8,
                         requested_input_tokens=4, ok=ok, status=status, e2e_s=e2e, token_times_s=times,
                         output_tokens=len(times) if tokens is None else tokens,
                         prompt_tokens=5 if ok else None)


def _clock(times: list[float]) -> Iterator[float]:
    return iter(times)


def _sse(*chunks: object) -> bytes:
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def _delta(text: str) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


async def _send(reply: httpx.Response, clock_times: list[float]) -> RequestRecord:
    transport = httpx.MockTransport(lambda request: reply)
    clock = _clock(clock_times)
    record = RequestRecord(index=0, start_s=0.0, scheduled_s=None, max_tokens=3, requested_input_tokens=None)
    async with httpx.AsyncClient(transport=transport) as client:
        return await send_chat(client, "http://x/v1/chat/completions", {"model": "m"}, record,
                               lambda: next(clock))


async def test_client_times_each_text_chunk_with_the_injected_clock() -> None:
    usage = {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}}
    body = _sse({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}, _delta("a"), _delta(" b"),
                _delta(" c"), usage)
    # clock reads: start, three text chunks, end
    record = await _send(httpx.Response(200, content=body), [10.0, 10.2, 10.25, 10.3, 10.4])
    assert record.ok and record.status == "200"
    assert record.token_times_s == pytest.approx([0.2, 0.25, 0.3])
    assert record.ttft_s == pytest.approx(0.2) and record.e2e_s == pytest.approx(0.4)
    assert (record.prompt_tokens, record.output_tokens, record.usage_reported) == (9, 3, True)
    assert tpot_s(record) == pytest.approx((0.4 - 0.2) / 2)


async def test_client_counts_chunks_when_the_server_reports_no_usage() -> None:
    record = await _send(httpx.Response(200, content=_sse(_delta("a"), _delta("b"))), [0, 1, 2, 3])
    assert record.ok and record.output_tokens == 2 and not record.usage_reported


@pytest.mark.parametrize(("reply", "status"), [
    (httpx.Response(503, json={"error": {"message": "overloaded"}}), "503"),
    (httpx.Response(200, content=_sse({"error": {"message": "engine died"}})), "stream-error"),
    (httpx.Response(200, content=b"data: [DONE]\n\n"), "empty-stream"),
])
async def test_client_classifies_failures_by_status(reply: httpx.Response, status: str) -> None:
    record = await _send(reply, [0.0, 0.5])
    assert not record.ok and record.status == status and record.error
    assert record.e2e_s == pytest.approx(0.5)


async def test_client_reports_connection_failures() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    record = RequestRecord(index=0, start_s=0.0, scheduled_s=None, max_tokens=3, requested_input_tokens=None)
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        await send_chat(client, "http://x/v1/chat/completions", {}, record, iter([0.0, 0.1]).__next__)
    assert (record.ok, record.status) == (False, "connect-error")


def test_body_forces_the_output_length_only_with_ignore_eos() -> None:
    prompt = Prompt("hello", 12)
    forced = chat_body(RequestSettings("m"), prompt)
    assert forced["ignore_eos"] is True and forced["stop"] == [] and "min_tokens" not in forced
    assert forced["stream_options"] == {"include_usage": True} and forced["max_tokens"] == 12
    plain = chat_body(RequestSettings("m", ignore_eos=False), prompt)
    assert "ignore_eos" not in plain and "stop" not in plain


def test_percentile_interpolates_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 90) == pytest.approx(3.7)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 4.0
    assert math.isnan(percentile([], 50))


def test_step_summary_from_known_timings() -> None:
    records = [
        # ttft 0.1, gaps 0.1 and 0.2, e2e 0.5 -> tpot (0.5 - 0.1) / 2 = 0.2
        _record(0, 0.0, [0.1, 0.2, 0.4], 0.5),
        # ttft 0.3, gap 0.1, e2e 0.4 -> tpot 0.1; ends at 1.0 + 0.4 = 1.4
        _record(1, 1.0, [0.3, 0.4], 0.4),
        _record(2, 1.5, [], 0.5, tokens=0, ok=False, status="500"),  # ends at 2.0: the step's end
    ]
    s = summarize_step(records, SLO(ttft_ms=200))
    assert (s.requests, s.completed, s.failed, s.errors_by_status) == (3, 2, 1, {"500": 1})
    assert s.error_rate == pytest.approx(1 / 3)
    assert s.duration_s == pytest.approx(2.0)
    assert s.request_throughput == pytest.approx(1.0) and s.output_throughput == pytest.approx(2.5)
    assert s.ttft_ms.mean == pytest.approx(200) and s.ttft_ms.p50 == pytest.approx(200)
    assert s.ttft_ms.p90 == pytest.approx(100 + 0.9 * 200)
    assert s.itl_ms.count == 3 and s.itl_ms.mean == pytest.approx(400 / 3)
    assert s.tpot_ms.mean == pytest.approx(150) and s.e2e_ms.p50 == pytest.approx(450)
    assert s.mean_output_tokens == pytest.approx(2.5) and s.mean_input_tokens == pytest.approx(5)
    assert s.max_send_lag_ms == 0.0  # every request left when planned
    assert s.send_rate == pytest.approx(2 / 1.5)  # sends at 0, 1.0 and 1.5 s
    # only the first request meets TTFT <= 200 ms; the failure meets nothing
    assert s.good_requests == 1
    assert (s.goodput, s.good_share) == pytest.approx((0.5, 1 / 3))


def test_slo_requires_every_objective() -> None:
    record = _record(0, 0.0, [0.1, 0.2, 0.4], 0.5)  # ttft 100 ms, tpot 200 ms, e2e 500 ms
    assert meets_slo(record, SLO())
    assert meets_slo(record, SLO(ttft_ms=100, tpot_ms=200, e2e_ms=500))
    assert not meets_slo(record, SLO(ttft_ms=100, tpot_ms=199))
    assert not meets_slo(record, SLO(e2e_ms=499))


def test_summary_of_a_step_where_everything_failed_has_no_latencies() -> None:
    s = summarize_step([_record(0, 0.0, [], 0.2, tokens=0, ok=False, status="timeout")], SLO())
    assert s.completed == 0 and s.error_rate == 1.0 and s.good_requests == 0
    assert math.isnan(s.ttft_ms.p50) and s.ttft_ms.count == 0
