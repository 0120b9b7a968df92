"""`stellwerk serve --attach ADDRESS`: a stateless router over applications already on a Ray cluster.

The router joins the cluster as a Ray driver, finds the model applications `stellwerk deploy` (or
KubeRay) put there by name, and serves until stopped; it deploys nothing and removes nothing, so any
number of routers (on any node) serve one cluster at once, and one dying takes nothing else down.
Shared state lives in the database (keys, bans, ledger, rate-limit windows, budgets). Models are
those whose Serve application exists when the router starts; restart routers (one at a time) after
deploying a new model.
"""

from __future__ import annotations

import argparse
import logging
import signal

from models.availability import Availability

__all__ = ["attached_models", "serve_attached"]

logger = logging.getLogger("stellwerk")


def attached_models(availabilities: list[Availability], deployed: set[str]) -> list[Availability]:
    """Local models count as available when their Serve application exists on the cluster (their
    weights live on the model nodes, not on the router's machine); remote ones as on this machine."""
    from serving.llm_config import deployment_name

    out = []
    for a in availabilities:
        if not a.entry.is_local:
            out.append(a)
        elif deployment_name(a.entry.id) in deployed:
            out.append(Availability(a.entry, True))
        else:
            out.append(Availability(a.entry, False, "not deployed on this cluster (see stellwerk deploy)"))
    return out


def serve_attached(args: argparse.Namespace) -> int:
    from cluster import ray_cluster
    from cluster.gpu import NvmlReader
    from cluster.serve_status import ServeStatusWatcher
    from router.routing.config import DEFAULT_ROUTING_CONFIG_PATH, load_routing_config
    from serving.deploy import plan_apps
    from serving.remote.registry import ProviderClients
    from stellwerk_cli.commands import _availabilities, _exit_on_signal, _tenancy, run_router

    signal.signal(signal.SIGTERM, _exit_on_signal)
    load_routing_config(args.routing_config or DEFAULT_ROUTING_CONFIG_PATH)
    tenancy = _tenancy(args)
    gpus = NvmlReader()  # the GPUs of the router's own machine, if any (usually none)
    watcher = ServeStatusWatcher()
    clients = ProviderClients()
    ray_cluster.attach(args.attach)
    try:
        watcher.start()
        availabilities = attached_models(_availabilities(args.catalogue, gpu_count=0), set(watcher.all()))
        apps = plan_apps(availabilities)
        logger.info("router attached to %s, serving %s on http://%s:%d/v1", args.attach,
                    ", ".join(a.entry.id for a in apps) or "no local models", args.host, args.port)
        run_router(args, availabilities, apps, watcher, gpus, clients, tenancy)
    finally:
        watcher.stop()
        ray_cluster.shutdown(joined=True, apps=[])
        gpus.close()
    return 0
