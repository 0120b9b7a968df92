"""Start and stop Ray and Serve for Stellwerk: an embedded one-machine cluster, or join an existing one."""

from __future__ import annotations

import logging
import os

__all__ = ["attach", "connect", "shutdown"]

logger = logging.getLogger(__name__)


def connect(address: str | None, num_cpus: int | None) -> None:
    """Start Ray on this machine (`address=None`) or join the cluster at `address`; then start Serve.

    Serve's HTTP proxy is disabled: the Stellwerk router calls deployments through handles.
    """
    import ray
    from ray import serve

    # Quieter, and no usage reporting from an air-gapped cluster.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address is None:
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
