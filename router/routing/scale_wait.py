"""A bounded wait for a local pool that is scaling up from zero, for requests nothing else may serve.

While a local pool has no ready replica, `auto` routing skips it (and wakes it): a request that may use
a remote model is answered remotely at once. A request that only such a pool may serve — its tenant
keeps prompts on the premises, or it asked for the local-only objective — finds no candidate. Instead
of 503 at once it waits here until one of those pools has a ready replica, then is routed again; the
wait is bounded by the routing configuration (`scale_up.max_wait_s`) and by the client's own limit
(`RoutingHints.max_wait_s`), and when it runs out the answer is 503 with Retry-After.

Readiness is read from memory (Serve's status as the router's watcher last saw it), every `poll_s`,
so waiting costs no call to the cluster. Once a pool is ready, one fresh telemetry sample — shared by
every request waiting at that moment — lets routing see the replica and its queue.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from models.catalogue import ModelEntry
from serving.errors import EngineUnavailable

__all__ = ["PoolReadiness", "ScaleUpWait", "scale_up_timeout"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Whether a local model's pool has a ready replica now; None: the model is not a pool that scales.
PoolReadiness = Callable[[ModelEntry], bool | None]

DEFAULT_POLL_S = 0.25


class ScaleUpWait:
    """Retries an `attempt` that found no candidate while some of `pools` are scaling up, until one
    of them has a ready replica or the time is up (then `scale_up_timeout`)."""

    def __init__(self, ready: PoolReadiness, refresh: Callable[[], Awaitable[object]], *,
                 poll_s: float = DEFAULT_POLL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._ready = ready
        self._refresh = refresh
        self._poll = poll_s
        self._clock = clock
        self._refreshing: asyncio.Future[object] | None = None

    def scaling(self, entries: Sequence[ModelEntry]) -> list[ModelEntry]:
        """Those of `entries` that are pools able to scale (ready or not: the caller knows they were
        skipped as not ready, perhaps on a sample older than the replica)."""
        return [e for e in entries if self._ready(e) is not None]

    async def retry(self, attempt: Callable[[], Awaitable[T]], pools: Callable[[], Sequence[ModelEntry]],
                    max_wait_s: float, retry_after_s: float) -> T:
        """`attempt()`; while it raises `EngineUnavailable` and `pools()` (the pools it skipped as not
        ready) is not empty, wait for one of them and try again, for at most `max_wait_s` in all."""
        deadline = self._clock() + max_wait_s
        again = False
        while True:
            try:
                return await attempt()
            except EngineUnavailable as exc:
                waiting = self.scaling(pools())
                if not waiting:
                    raise
                if self._clock() >= deadline or not await self._until_ready(waiting, deadline, again):
                    raise scale_up_timeout(waiting, max_wait_s, retry_after_s) from exc
                again = True

    async def _until_ready(self, pools: Sequence[ModelEntry], deadline: float, pause: bool) -> bool:
        """True once one of `pools` has a ready replica (and telemetry has been sampled since); False
        at the deadline. `pause`: routed again after a pool was ready, and it still failed — a replica
        Serve reports RUNNING may not answer yet (the handle learns of it a moment later) — so wait
        one poll before sampling again."""
        while True:
            if pause:
                pause = False
            elif any(self._ready(p) for p in pools):
                await self._sample()
                return True
            left = deadline - self._clock()
            if left <= 0:
                return False
            await asyncio.sleep(min(self._poll, left))

    async def _sample(self) -> None:
        """One telemetry sample for every request waiting now (not one each)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._refresh())
        await asyncio.shield(self._refreshing)


def scale_up_timeout(pools: Sequence[ModelEntry], waited_s: float, retry_after_s: float) -> EngineUnavailable:
    """The 503 for a request whose only pools did not get a ready replica within `waited_s`."""
    names = ", ".join(p.id for p in pools)
    waited = f"within {math.ceil(waited_s)} s" if waited_s > 0 else "(the request allows no wait)"
    error = EngineUnavailable(
        f"no model this request may use is ready: {names} is scaling up from zero and was not ready "
        f"to serve {waited}; retry in {math.ceil(retry_after_s)} s")
    error.retry_after_s = retry_after_s
    return error
