"""The open-loop scheduler: due times, lateness, dropping over the in-flight cap, failures recorded."""

from __future__ import annotations

import asyncio
import time

import pytest

from benchmarks.overhead.schedule import Outcome, run_open_loop, send_offsets


def test_send_offsets_are_evenly_spaced_at_the_rate() -> None:
    assert send_offsets(4, 1) == [0, 0.25, 0.5, 0.75]
    offsets = send_offsets(1000, 2)
    assert len(offsets) == 2000
    assert offsets[1] - offsets[0] == pytest.approx(0.001)
    assert max(offsets) < 2
    with pytest.raises(ValueError):
        send_offsets(0, 1)


async def test_requests_leave_at_their_due_time_whatever_the_latency() -> None:
    async def slow() -> tuple[float, float]:
        await asyncio.sleep(0.2)  # much longer than the 20 ms spacing: an open loop does not wait
        now = time.perf_counter()
        return now, now

    outcomes = await run_open_loop(send_offsets(50, 0.2), slow)
    assert len(outcomes) == 10 and all(o.ok for o in outcomes)
    assert [o.due for o in outcomes] == pytest.approx([i * 0.02 for i in range(10)])
    # each was sent no earlier than due; the last went out long before the first answer came back
    assert all(o.sent >= o.due for o in outcomes)
    assert outcomes[-1].sent < outcomes[0].done


async def test_requests_over_the_in_flight_cap_are_dropped_not_sent() -> None:
    calls = 0

    async def hang() -> tuple[float, float]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.1)
        now = time.perf_counter()
        return now, now

    outcomes = await run_open_loop([0.0] * 5, hang, max_in_flight=2)
    assert calls == 2
    assert sum(o.dropped for o in outcomes) == 3
    assert all(not o.ok for o in outcomes if o.dropped)


async def test_a_failing_request_is_recorded_with_its_error() -> None:
    async def broken() -> tuple[float, float]:
        raise ConnectionResetError("peer reset")

    [outcome] = await run_open_loop([0.0], broken)
    assert outcome.error == "ConnectionResetError: peer reset"
    assert not outcome.ok and not outcome.dropped


def test_outcome_times() -> None:
    o = Outcome(due=1.0, sent=1.002, first_byte=1.005, done=1.012)
    assert o.lag == pytest.approx(0.002)
    assert o.ttfb == pytest.approx(0.003)
    assert o.latency == pytest.approx(0.010)
