"""Drive the load: one step at a time, each bounded by a request count and a duration, with a progress bar.

Rate steps send on their arrival schedule whether or not earlier requests have answered (an open loop,
so a slow server builds a queue, as real traffic would); concurrency steps keep N requests in flight (a
closed loop). When a bound is reached no new request is sent; requests already in flight run to the end
(or to the per-request timeout) and are counted.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import httpx
from tqdm import tqdm  # type: ignore[import-untyped]

from benchmarks.bench.client import Clock, RequestRecord, RequestSettings, chat_body, send_chat
from benchmarks.bench.prompts import Prompt
from benchmarks.bench.schedule import Step, arrival_offsets

__all__ = ["Bounds", "Target", "run_steps"]


@dataclass(frozen=True)
class Bounds:
    """When a step stops sending: after `requests` requests or `duration_s` seconds, whichever is first."""

    requests: int | None = None
    duration_s: float | None = None

    def open(self, sent: int, elapsed_s: float) -> bool:
        return ((self.requests is None or sent < self.requests)
                and (self.duration_s is None or elapsed_s < self.duration_s))


@dataclass(frozen=True)
class Target:
    """Where requests go: the API base URL (…/v1), its headers (the API key), the request settings."""

    base_url: str
    settings: RequestSettings
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 300.0

    @property
    def chat_url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


async def run_steps(target: Target, steps: list[Step], prompts: Iterator[Prompt], bounds: Bounds,
                    seed: int, *, warmup: int = 0, clock: Clock = time.perf_counter,
                    show_progress: bool = True,
                    transport: httpx.AsyncBaseTransport | None = None) -> list[list[RequestRecord]]:
    """Run every step in order, after `warmup` uncounted requests sent at once; returns each step's
    request records. `transport` replaces the network (tests)."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
    async with httpx.AsyncClient(headers=dict(target.headers), timeout=target.timeout_s,
                                 limits=limits, transport=transport) as client:
        if warmup:
            await asyncio.gather(*(_send(client, target, next(prompts), i, 0.0, None, clock)
                                   for i in range(warmup)))
        results = []
        for number, step in enumerate(steps):
            with tqdm(total=bounds.requests, desc=step.label, unit="req", disable=not show_progress,
                      leave=True) as bar:
                run = _RateStep if step.mode != "concurrency" else _ConcurrencyStep
                results.append(await run(client, target, step, prompts, bounds, clock, bar)
                               .go(seed * 1000 + number))
        return results


async def _send(client: httpx.AsyncClient, target: Target, prompt: Prompt, index: int, start_s: float,
                scheduled_s: float | None, clock: Clock) -> RequestRecord:
    record = RequestRecord(index=index, start_s=start_s, scheduled_s=scheduled_s,
                           max_tokens=prompt.max_tokens, requested_input_tokens=prompt.input_tokens)
    return await send_chat(client, target.chat_url, chat_body(target.settings, prompt), record, clock)


@dataclass
class _StepRun:
    client: httpx.AsyncClient
    target: Target
    step: Step
    prompts: Iterator[Prompt]
    bounds: Bounds
    clock: Clock
    bar: tqdm
    started: float = 0.0

    async def send(self, index: int, scheduled_s: float | None) -> RequestRecord:
        record = await _send(self.client, self.target, next(self.prompts), index,
                             self.clock() - self.started, scheduled_s, self.clock)
        self.bar.update(1)
        return record


class _RateStep(_StepRun):
    """Open loop: request i leaves at its planned offset."""

    async def go(self, seed: int) -> list[RequestRecord]:
        self.started = self.clock()
        tasks: list[asyncio.Task[RequestRecord]] = []
        for index, offset in enumerate(arrival_offsets(self.step, seed)):
            if not self.bounds.open(index, offset):
                break
            delay = offset - (self.clock() - self.started)
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.send(index, offset)))
        return list(await asyncio.gather(*tasks))


class _ConcurrencyStep(_StepRun):
    """Closed loop: N workers, each sends its next request when its last one ends."""

    async def go(self, seed: int) -> list[RequestRecord]:
        self.started = self.clock()
        counter = itertools.count()
        records: list[RequestRecord] = []

        async def worker() -> None:
            while True:
                index = next(counter)
                if not self.bounds.open(index, self.clock() - self.started):
                    return
                records.append(await self.send(index, None))

        await asyncio.gather(*(worker() for _ in range(int(self.step.value))))
        return sorted(records, key=lambda r: r.index)
