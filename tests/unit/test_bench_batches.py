"""The first-numbers batches read each stream with the benchmarks' one timed client (`send_chat`)."""

from __future__ import annotations

import httpx
import pytest

from benchmarks.bench.batches import stream_once, summarize
from benchmarks.bench.fake_server import create_app


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ttft_ms=1, itl_ms=1)),
                             base_url="http://fake")


@pytest.mark.asyncio
async def test_a_stream_is_timed_token_by_token() -> None:
    async with _client() as client:
        timing = await stream_once(client, "http://fake/v1", "m", "one two three", max_tokens=5)
    assert timing.completion_tokens == 5
    assert len(timing.chunk_times_s) == 5
    assert 0 < timing.ttft_s <= timing.chunk_times_s[-1] <= timing.e2e_s
    summary = summarize(1, [([timing], timing.e2e_s)])
    assert summary.requests == 1 and summary.output_tokens_per_s > 0


@pytest.mark.asyncio
async def test_a_failed_stream_raises_with_its_status() -> None:
    async with _client() as client:
        with pytest.raises(RuntimeError, match="500"):
            await stream_once(client, "http://fake/v1", "fail", "one two three", max_tokens=5)
