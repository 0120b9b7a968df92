"""`serving.scheduler_stats`: the vLLM stat logger that keeps the engine's queue, fed real
`SchedulerStats` objects (vLLM is imported, no engine is started)."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # NOTE: importing vLLM imports torch, whose own deprecation warnings are not ours to fix.
    warnings.simplefilter("ignore")
    from vllm.v1.metrics.loggers import StatLoggerBase
    from vllm.v1.metrics.stats import SchedulerStats

    from serving.scheduler_stats import LatestSchedulerStats, attach_scheduler_stats, engine_stats_reply


def test_it_is_a_vllm_stat_logger_that_keeps_the_newest_stats_of_each_engine() -> None:
    keeper = LatestSchedulerStats(vllm_config=None, engine_indexes=[0, 1])
    assert isinstance(keeper, StatLoggerBase)
    assert keeper.totals() is None

    keeper.record(SchedulerStats(num_running_reqs=9, num_waiting_reqs=9, kv_cache_usage=0.9), None)
    keeper.record(SchedulerStats(num_running_reqs=3, num_waiting_reqs=1, kv_cache_usage=0.5), None)
    keeper.record(None, None, engine_idx=0)  # a step without scheduler stats keeps the last ones
    keeper.record(SchedulerStats(num_running_reqs=1, num_waiting_reqs=0, kv_cache_usage=0.25), None,
                  engine_idx=1)
    keeper.log_engine_initialized()
    keeper.log()

    assert keeper.totals() == (4, 1, 0.375)


def test_the_reply_splits_unfinished_requests_by_the_schedulers_numbers() -> None:
    keeper = LatestSchedulerStats()
    keeper.record(SchedulerStats(num_running_reqs=2, num_waiting_reqs=3, kv_cache_usage=0.5), None)

    assert engine_stats_reply(5, keeper) == {"unfinished": 5.0, "running": 2.0, "waiting": 3.0,
                                             "kv_cache_usage": 0.5, "ready": 1.0}


def test_without_scheduler_stats_every_unfinished_request_is_running() -> None:
    expected = {"unfinished": 2.0, "running": 2.0, "waiting": 0.0, "kv_cache_usage": None, "ready": 1.0}
    assert engine_stats_reply(2, None) == expected
    assert engine_stats_reply(2, LatestSchedulerStats()) == expected


def test_an_idle_engine_is_idle_even_if_its_last_scheduler_stats_were_not() -> None:
    keeper = LatestSchedulerStats()
    keeper.record(SchedulerStats(num_running_reqs=1, num_waiting_reqs=1, kv_cache_usage=0.125), None)

    reply = engine_stats_reply(0, keeper)

    assert (reply["running"], reply["waiting"], reply["kv_cache_usage"]) == (0.0, 0.0, 0.125)


class _Manager:
    def __init__(self) -> None:
        self.stat_loggers: list[object] = []


class _AsyncLLM:
    def __init__(self, manager: _Manager | None) -> None:
        self.logger_manager = manager


def test_attach_adds_the_keeper_to_the_engines_stat_logger_manager() -> None:
    manager = _Manager()

    keeper = attach_scheduler_stats(_AsyncLLM(manager))

    assert keeper is not None and manager.stat_loggers == [keeper]


def test_attach_without_stats_logging_gives_none() -> None:
    assert attach_scheduler_stats(_AsyncLLM(None)) is None
