"""Start and stop Ray and Serve for Stellwerk: an embedded one-machine cluster, or join an existing one."""

from __future__ import annotations

import logging
import os
from typing import Final

__all__ = ["EMBEDDED_RAY_ENV", "attach", "connect", "shutdown"]

logger = logging.getLogger(__name__)

# Ray's and Serve's periodic work, at a slower cadence than their defaults, which are sized for large
# clusters with a dashboard. On the embedded one-machine cluster they took about 4 points of an idle
# `stellwerk serve`'s 14 % of a core (`python -m benchmarks.idle_cpu`, README "Idle"). Set before Ray
# starts, so every Ray process inherits them; a value already in the environment wins.
EMBEDDED_RAY_ENV: Final = {
    # Serve's controller reconciles deployments every 0.1 s by default; 0.5 s delays a deploy or a
    # scaling step by at most that (autoscaling looks back over seconds anyway).
    "RAY_SERVE_CONTROL_LOOP_INTERVAL_S": "0.5",
    # Task events for `ray list tasks` / the dashboard (off here): every 5 s instead of every second.
    "RAY_task_events_report_interval_ms": "5000",
    # Ray's own metrics to its agent and the agent's node report (Stellwerk's dashboard and alerts use
    # the router's and vLLM's metrics, not Ray's): every 30 s instead of 10 s and 5 s.
    "RAY_metrics_report_interval_ms": "30000",
    "REPORTER_UPDATE_INTERVAL_MS": "30000",
    # The raylet tells the GCS its free resources every second instead of every 0.1 s. Tasks and actors
    # on one node are scheduled by the raylet itself; the GCS places placement groups (one per vLLM
    # replica) from these reports, so a replica restarting may wait up to a second longer for its
    # freed resources to show.
    "RAY_raylet_report_resources_period_milliseconds": "1000",
    # No workers started ahead of time: Serve's actors each start their own, an idle pool of
    # prestarted workers only waits (and costs a process and its memory).
    "RAY_prestart_worker_first_driver": "0",
    # A worker that ran a task and went idle is stopped after a second instead of being kept for the
    # next task (one such worker idled at ~780 MB and 0.9 % of a core). The trade-off: Ray LLM runs a
    # node-initialisation task whenever a replica starts (a restart, a scale-up from zero), which then
    # starts a fresh worker process first; that replica start (tens of seconds on a CPU) was not timed
    # against the kept worker.
    "RAY_num_workers_soft_limit": "0",
    # Ray's log monitor (which forwards the replicas' logs to this process) globs the session's log
    # folder for new files on every 0.1 s pass while there are fewer than 1,000; every 2 s instead.
    "RAY_LOG_MONITOR_MANY_FILES_THRESHOLD": "0",
    "LOG_NAME_UPDATE_INTERVAL_S": "2",
}


def connect(address: str | None, num_cpus: int | None) -> None:
    """Start Ray on this machine (`address=None`) or join the cluster at `address`; then start Serve.

    Serve's HTTP proxy is disabled: the Stellwerk router calls deployments through handles.
    """
    import ray
    from ray import serve

    # Quieter, and no usage reporting from an air-gapped cluster.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address is None:
        for name, value in EMBEDDED_RAY_ENV.items():
            os.environ.setdefault(name, value)
        # NOTE: address="local" always starts a new Ray here; without it ray.init() joins whatever
        # cluster `ray start` last recorded on this machine (or $RAY_ADDRESS), even a dead one.
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 2, include_dashboard=False,
                 logging_level=logging.WARNING, log_to_driver=True)
    else:
        ray.init(address=address, logging_level=logging.WARNING)
    serve.start(proxy_location="Disabled")
    logger.info("Ray %s and Serve started", "joined at " + address if address else "on this machine")


def attach(address: str) -> None:
    """Join the cluster at `address` as a driver without starting or configuring Serve: the
    applications are already deployed (`stellwerk deploy`), and their handles are found by name.

    On a cluster with Ray's token authentication (the default of `ray start` since 2.5x) the driver
    needs `RAY_AUTH_MODE=token` and the token (`~/.ray/auth_token` or `RAY_AUTH_TOKEN`).
    """
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    logger.info("attached to the Ray cluster at %s", address)


def shutdown(joined: bool = False, apps: list[str] | None = None) -> None:
    """Stop Serve and Ray on an embedded cluster. On a cluster we joined, other routers may share
    the Serve applications: leave them running, only disconnect. Safe to call twice."""
    import ray
    from ray import serve

    if not ray.is_initialized():
        return
    try:
        if not joined:
            serve.shutdown()  # type: ignore[no-untyped-call]
        else:
            logger.info("leaving the cluster; Serve applications %s keep running", apps or [])
    finally:
        ray.shutdown()
