"""`Periodic`: one background asyncio task that runs a step every few seconds until stopped.

The router keeps several such loops (telemetry sampling, config-file watching, key/ban sync, budget
refresh). Each step handles the failures it expects; anything else is logged with its traceback and the
loop goes on, so one bad step never ends the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["Periodic"]

logger = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval_s: float, step: Callable[[], Awaitable[object]], *,
                 wait_first: bool = False) -> None:
        """Run `step` every `interval_s` (after a first wait of `interval_s` if `wait_first`)."""
        self.name = name
        self._interval = interval_s
        self._step = step
        self._wait_first = wait_first
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop in the running event loop (a second call does nothing)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        if self._wait_first:
            await asyncio.sleep(self._interval)
        while True:
            try:
                await self._step()
            except Exception:  # NOTE: an unexpected failure of one step must not end the loop
                logger.exception("%s failed; trying again in %g s", self.name, self._interval)
            await asyncio.sleep(self._interval)
