"""Open-loop, constant-rate load: requests leave at fixed times whatever the server's latency.

A closed loop (N clients, each waiting for its answer) slows down with the server and hides queueing
("coordinated omission"); here request i is due at `i / rate` seconds, and a slow server only makes
requests pile up. Each request records when it was due, when it was actually sent (the generator's own
lag), when its first body byte came and when it ended.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Outcome", "run_open_loop", "send_offsets"]


def send_offsets(rate: float, duration_s: float) -> list[float]:
    """When each request is due, in seconds from the start: i / rate for every i with i / rate < duration."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError("rate and duration must be positive")
    count = round(rate * duration_s)
    return [i / rate for i in range(count) if i / rate < duration_s]


@dataclass(frozen=True)
class Outcome:
    """One request, times in seconds from the step's start. `error` is None for a valid answer;
    `dropped` requests were never sent because too many were already in flight."""

    due: float
    sent: float
    first_byte: float
    done: float
    error: str | None = None
    dropped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.dropped

    @property
    def latency(self) -> float:
        """From send to the end of the answer."""
        return self.done - self.sent

    @property
    def ttfb(self) -> float:
        """From send to the first body byte (for a stream: the first SSE event)."""
        return self.first_byte - self.sent

    @property
    def lag(self) -> float:
        """How late the generator sent it."""
        return self.sent - self.due


# One request: returns (first body byte, end) as perf_counter times, or raises.
Fire = Callable[[], Awaitable[tuple[float, float]]]


async def run_open_loop(offsets: list[float], fire: Fire, *, max_in_flight: int = 2000,
                        on_sent: Callable[[], None] | None = None) -> list[Outcome]:
    """Send one request per offset at its time; wait for all of them. Requests over `max_in_flight`
    are dropped (recorded, never sent), so an overloaded server cannot grow the backlog without bound."""
    start = time.perf_counter()
    in_flight = 0
    outcomes: list[Outcome] = []

    async def one(due: float) -> None:
        nonlocal in_flight
        sent = time.perf_counter() - start
        try:
            first, end = await fire()
            outcomes.append(Outcome(due, sent, first - start, end - start))
        except Exception as exc:  # any failure of one request is a data point, not a crash
            now = time.perf_counter() - start
            outcomes.append(Outcome(due, sent, now, now, error=f"{type(exc).__name__}: {exc}"[:200]))
        finally:
            in_flight -= 1

    tasks = []
    for due in offsets:
        delay = start + due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if in_flight >= max_in_flight:
            now = time.perf_counter() - start
            outcomes.append(Outcome(due, now, now, now, error="dropped", dropped=True))
            continue
        in_flight += 1
        tasks.append(asyncio.ensure_future(one(due)))
        if on_sent is not None:
            on_sent()
    await asyncio.gather(*tasks)
    return sorted(outcomes, key=lambda o: o.due)
