"""`Periodic`: steps repeat, an unexpected failure is logged and the loop goes on, stop ends it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cluster.periodic import Periodic


async def test_steps_repeat_survive_a_failure_and_stop(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    async def step() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("boom")

    loop = Periodic("test loop", 0.01, step)
    loop.start()
    loop.start()  # a second start does not start a second loop
    for _ in range(200):
        if len(calls) >= 4:
            break
        await asyncio.sleep(0.01)
    await loop.stop()
    count = len(calls)
    await asyncio.sleep(0.05)

    assert count >= 4 and len(calls) == count  # went on after the failure; nothing after stop
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1 and "test loop failed" in failures[0].getMessage()


async def test_wait_first_delays_the_first_step() -> None:
    calls: list[float] = []

    async def step() -> None:
        calls.append(1.0)

    loop = Periodic("waiting loop", 0.2, step, wait_first=True)
    loop.start()
    await asyncio.sleep(0.05)
    await loop.stop()
    assert calls == []
