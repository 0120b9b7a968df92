"""The engine's own queue: a vLLM stat logger that keeps the newest `SchedulerStats` of each EngineCore.

vLLM's `AsyncLLM` hands every stat logger a `SchedulerStats` after each engine step (running and
waiting requests, KV-cache usage). `LatestSchedulerStats` only remembers the newest one per engine,
so reading the queue costs nothing on the engine's path; `engine_stats_reply` turns it into the reply
of `StellwerkLLMServer.engine_stats`.

This module is imported inside Ray workers, where vLLM is installed.
"""

from __future__ import annotations

import logging
from typing import Any

from vllm.v1.metrics.loggers import AggregateStatLoggerBase

__all__ = ["LatestSchedulerStats", "attach_scheduler_stats", "engine_stats_reply"]

logger = logging.getLogger(__name__)


class LatestSchedulerStats(AggregateStatLoggerBase):
    """A vLLM stat logger (one for all of an AsyncLLM's engines) that keeps the newest scheduler
    stats of each engine; `totals()` sums them, or is None before the first engine step."""

    def __init__(self, vllm_config: Any = None, engine_indexes: list[int] | None = None) -> None:
        self._latest: dict[int, Any] = {}

    def record(self, scheduler_stats: Any, iteration_stats: Any, mm_cache_stats: Any = None,
               engine_idx: int = 0) -> None:
        if scheduler_stats is not None:
            self._latest[engine_idx] = scheduler_stats

    def log_engine_initialized(self) -> None:
        pass

    def totals(self) -> tuple[int, int, float] | None:
        """(running, waiting, mean KV-cache usage 0..1) over the engines, or None if none reported."""
        stats = list(self._latest.values())
        if not stats:
            return None
        running = sum(int(s.num_running_reqs) for s in stats)
        waiting = sum(int(s.num_waiting_reqs) for s in stats)
        usage = sum(float(s.kv_cache_usage) for s in stats) / len(stats)
        return running, waiting, usage


def attach_scheduler_stats(client: Any) -> LatestSchedulerStats | None:
    """Register a `LatestSchedulerStats` with an AsyncLLM's stat-logger manager and return it.

    NOTE: Ray builds the AsyncLLM itself and passes only its own stat loggers; adding ours to vLLM's
    `StatLoggerManager` afterwards (it calls every logger in its list after each engine step) spares
    us a copy of Ray's constructor code. vLLM reports scheduler stats only with stats logging on
    (`disable_log_stats` False, vLLM's default); without it there is no manager and this returns None.
    """
    manager = getattr(client, "logger_manager", None)
    if manager is None:
        logger.warning("vLLM stats logging is off: the engine reports no waiting queue or KV-cache usage")
        return None
    stats = LatestSchedulerStats()
    manager.stat_loggers.append(stats)
    return stats


def engine_stats_reply(unfinished: int, scheduler: LatestSchedulerStats | None) -> dict[str, float | None]:
    """`{unfinished, running, waiting, kv_cache_usage, ready}` for the router.

    Without scheduler stats (none yet, or stats logging is off) every unfinished request counts as
    running and KV usage is unknown (None).
    """
    totals = scheduler.totals() if scheduler is not None else None
    if totals is None:
        running, waiting, usage = unfinished, 0, None
    elif unfinished == 0:
        # NOTE: the scheduler reports only after a step; once the last request is gone there may be
        # no further step, so the frontend's count of zero wins over a stale queue.
        running, waiting, usage = 0, 0, totals[2]
    else:
        running, waiting, usage = totals
    return {"unfinished": float(unfinished), "running": float(running), "waiting": float(waiting),
            "kv_cache_usage": usage, "ready": 1.0}
