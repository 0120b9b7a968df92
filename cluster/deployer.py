"""Apply a rendered Serve config to a running Ray cluster and follow it until every app settles.

This is the path of Ray's own `serve run config.yaml`: connect as a driver, start (or reuse) Serve's
controller with the config's proxy and HTTP options, and hand the whole config to the controller,
which builds each application inside the cluster (`serving.apps:build_model_app`). Applying the same
config again changes nothing; applying a changed one updates only the applications that differ, and
an application left out of the config is removed (Serve's declarative semantics). `serve deploy`
through the dashboard's REST API applies the same document.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from cluster.serve_status import AppStatus, read_serve_status

__all__ = ["SETTLED", "apply_serve_config", "wait_for_apps"]

logger = logging.getLogger(__name__)

SETTLED = frozenset({"RUNNING", "DEPLOY_FAILED", "UNHEALTHY"})


def apply_serve_config(config: dict[str, Any]) -> None:
    """Submit `config` (a ServeDeploySchema dict) to the cluster this driver is connected to."""
    from ray.serve._private import api as serve_api
    from ray.serve.config import gRPCOptions

    from cluster.serve_config import serve_schema

    schema = serve_schema().model_validate(config)
    client = serve_api.serve_start(
        http_options=schema.http_options.model_dump(), proxy_location=schema.proxy_location,
        grpc_options=gRPCOptions(**schema.grpc_options.model_dump()),
        controller_options=schema.controller_options)
    client.deploy_apps(schema, _blocking=False)
    logger.info("submitted %d applications to Serve", len(schema.applications))


def wait_for_apps(names: list[str], timeout_s: float,
                  on_change: Callable[[dict[str, AppStatus]], None] = lambda _: None,
                  read: Callable[[], dict[str, AppStatus]] = read_serve_status,
                  poll_s: float = 1.0) -> dict[str, AppStatus]:
    """Poll Serve until every app in `names` is RUNNING, failed or unhealthy, or `timeout_s` passes;
    `on_change` sees each reading that differs from the last. Returns the last reading."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, AppStatus] = {}
    while True:
        current = {n: s for n, s in read().items() if n in names}
        if current != last:
            on_change(current)
            last = current
        if len(current) == len(names) and all(s.status in SETTLED for s in current.values()):
            return current
        if time.monotonic() >= deadline:
            return current
        time.sleep(poll_s)
