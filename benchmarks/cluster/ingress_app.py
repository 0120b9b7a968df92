"""The router as a Ray Serve ingress deployment — the shape Stellwerk did not choose, built only to
measure it (`benchmarks/cluster/ingress.py`).

Each replica builds the same app an attached router serves (`stellwerk serve --attach`): the model
applications found on the cluster by name, remote models, routing, open-access tenancy on a shared
SQLite file. Serve's HTTP proxy sends every request to a replica, which calls the model pool through
its deployment handle — one proxy → replica hop more than an attached router.

    applications:
      - name: stellwerk-router
        route_prefix: /
        import_path: benchmarks.cluster.ingress_app:build_router_ingress
        args: {catalogue: /path/catalogue.yaml, database: /path/db.sqlite, replicas: 1, env: {}}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["build_router_ingress"]


def build_router_ingress(args: dict[str, Any]) -> Any:
    """A Serve application: `replicas` router replicas (no CPUs reserved) behind Serve's proxy."""
    from ray import serve

    catalogue, database = Path(args["catalogue"]), Path(args["database"])
    env = {str(k): str(v) for k, v in (args.get("env") or {}).items()}

    def build_asgi() -> Any:
        os.environ.update(env)  # e.g. the fake provider's key
        return _router_app(catalogue, database)

    deploy = serve.deployment(name="router", num_replicas=int(args.get("replicas", 1)),
                              ray_actor_options={"num_cpus": 0}, max_ongoing_requests=256)
    return deploy(serve.ingress(build_asgi)()).bind()


def _router_app(catalogue_path: Path, database: Path) -> Any:
    from cluster.serve_engines import remote_engines, running_replicas, serve_engines, status_aware_handles
    from cluster.serve_status import ServeStatusWatcher
    from cluster.telemetry import TelemetrySampler
    from models.availability import Availability, check_availability
    from models.catalogue import load_catalogue
    from router.app import create_app
    from router.registry import ModelRegistry
    from router.routing.build import default_routing
    from router.store import Database
    from router.tenancy.service import TenancyService
    from serving.deploy import plan_apps
    from serving.llm_config import deployment_name
    from serving.remote.registry import ADAPTERS, ProviderClients

    watcher = ServeStatusWatcher()
    watcher.start()
    deployed = set(watcher.all())
    availabilities = []
    for entry in load_catalogue(catalogue_path).models:
        found = check_availability(entry, gpu_count=0, remote_types=ADAPTERS.keys())
        if entry.kind == "local":  # its weights live on the model nodes: deployed is available
            found = (Availability(entry, True) if deployment_name(entry.id) in deployed
                     else Availability(entry, False, "not deployed on this cluster"))
        availabilities.append(found)
    apps = plan_apps(availabilities)
    chat, embed = serve_engines(apps, status_aware_handles(watcher), running_replicas(watcher))
    chat.update(remote_engines(availabilities, ProviderClients()))
    registry = ModelRegistry(availabilities, chat, embed)
    tenancy = TenancyService.open_access(Database.open(f"sqlite:///{database}", default_path=database))
    return create_app(registry, telemetry=TelemetrySampler(chat, interval_s=0.5),
                      routing=default_routing(registry), tenancy=tenancy)
