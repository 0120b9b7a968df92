"""Batches of concurrent streams with byte-identical bodies but for the prompt, summarised per batch size
(TTFT, decode speed, output tokens/s): what `benchmarks.first_numbers` sends to the stack and to vLLM.

Each stream is read by `benchmarks.bench.client.send_chat`, the one timed client of the benchmarks.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.bench.client import RequestRecord, send_chat

__all__ = ["REQUEST_FIELDS", "StreamSummary", "StreamTiming", "fresh_prompt", "run_concurrent", "stream_once",
           "summarize"]

_WORDS = (
    "river", "mountain", "signal", "railway", "engine", "harbour", "lantern", "meadow", "copper", "window",
    "garden", "letter", "orchard", "canvas", "thunder", "pocket", "marble", "violin", "crystal", "ladder",
)


# The sampling fields of every request, spelled out so that neither side applies its own defaults (a
# catalogue's stop strings or repetition penalty, a model folder's generation_config): both servers
# get byte-identical bodies but for the prompt. `ignore_eos` + `min_tokens` fix the output length.
REQUEST_FIELDS: dict[str, Any] = {
    "temperature": 0, "repetition_penalty": 1.0, "stop": [], "ignore_eos": True,
}


def fresh_prompt(rng: random.Random, words: int) -> str:
    """A prompt no earlier run sent (so vLLM's prefix cache cannot flatter TTFT)."""
    body = " ".join(rng.choice(_WORDS) for _ in range(words))
    return f"[{rng.getrandbits(64):x}] Continue this list of words: {body}"


@dataclass(frozen=True)
class StreamTiming:
    ttft_s: float
    e2e_s: float
    completion_tokens: int
    chunk_times_s: list[float] = field(repr=False)

    @property
    def decode_tokens_per_s(self) -> float:
        """Output speed after the first token."""
        span = self.e2e_s - self.ttft_s
        return (self.completion_tokens - 1) / span if span > 0 and self.completion_tokens > 1 else 0.0


async def stream_once(client: httpx.AsyncClient, url: str, model: str, prompt: str,
                      max_tokens: int) -> StreamTiming:
    """One streamed chat request generating exactly `max_tokens` tokens (read by `send_chat`, the same
    client `stellwerk bench` uses); raises when it fails."""
    body: dict[str, Any] = {
        "model": model, "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
        "min_tokens": max_tokens, **REQUEST_FIELDS,
    }
    record = RequestRecord(index=0, start_s=0.0, scheduled_s=None, max_tokens=max_tokens,
                           requested_input_tokens=None)
    await send_chat(client, url + "/chat/completions", body, record, time.perf_counter)
    if not record.ok or record.e2e_s is None or record.ttft_s is None:
        raise RuntimeError(f"{url}: {record.status} {record.error}")
    return StreamTiming(ttft_s=record.ttft_s, e2e_s=record.e2e_s, completion_tokens=record.output_tokens,
                        chunk_times_s=record.token_times_s)


async def run_concurrent(url: str, model: str, concurrency: int, max_tokens: int, prompt_words: int,
                         seed: int) -> tuple[list[StreamTiming], float]:
    """`concurrency` streams at once; returns their timings and the wall time of the whole batch."""
    rng = random.Random(seed)
    prompts = [fresh_prompt(rng, prompt_words) for _ in range(concurrency)]
    limits = httpx.Limits(max_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        started = time.perf_counter()
        timings = await asyncio.gather(*(stream_once(client, url, model, p, max_tokens) for p in prompts))
        wall = time.perf_counter() - started
    return list(timings), wall


@dataclass(frozen=True)
class StreamSummary:
    concurrency: int
    requests: int
    output_tokens_per_s: float
    ttft_median_s: float
    ttft_p90_s: float
    decode_tokens_per_s_median: float


def summarize(concurrency: int, batches: list[tuple[list[StreamTiming], float]]) -> StreamSummary:
    timings = [t for batch, _ in batches for t in batch]
    tokens = sum(t.completion_tokens for t in timings)
    wall = sum(w for _, w in batches)
    ttfts = sorted(t.ttft_s for t in timings)
    return StreamSummary(
        concurrency=concurrency, requests=len(timings), output_tokens_per_s=tokens / wall,
        ttft_median_s=statistics.median(ttfts),
        ttft_p90_s=ttfts[min(len(ttfts) - 1, int(0.9 * len(ttfts)))],
        decode_tokens_per_s_median=statistics.median(t.decode_tokens_per_s for t in timings))
