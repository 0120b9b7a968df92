"""Wire Serve-backed engines for the router: one engine object per deployed local model."""

from __future__ import annotations

from typing import Any

from cluster.serve_status import ServeStatusWatcher
from models.availability import Availability
from serving.deploy import PlannedApp
from serving.engine import ChatEngine, EmbeddingEngine
from serving.errors import EngineUnavailable
from serving.ray_engine import HandleProvider, RayChatEngine, RayEmbeddingEngine, ReplicaCounter
from serving.remote.registry import ProviderClients, create_remote_engine

__all__ = ["remote_engines", "running_replicas", "serve_engines", "status_aware_handles"]


def status_aware_handles(watcher: ServeStatusWatcher) -> HandleProvider:
    """Handles only for applications Serve reports RUNNING; otherwise `EngineUnavailable` at once
    (a handle to a deployment without replicas would queue the request until one starts)."""
    from ray import serve

    cache: dict[str, Any] = {}

    def provide(app_name: str) -> Any:
        status = watcher.get(app_name)
        if status is None or not status.running:
            raise EngineUnavailable(
                f"the deployment for this model is {watcher.describe(app_name)}; retry shortly")
        if app_name not in cache:
            cache[app_name] = serve.get_deployment_handle(app_name, app_name)
        return cache[app_name]

    return provide


def running_replicas(watcher: ServeStatusWatcher) -> ReplicaCounter:
    """RUNNING replicas of an application, from the watcher's latest Serve status (0 if unknown)."""

    def count(app_name: str) -> int:
        status = watcher.get(app_name)
        return status.replicas.get("RUNNING", 0) if status is not None else 0

    return count


def serve_engines(apps: list[PlannedApp], handles: HandleProvider, replicas: ReplicaCounter
                  ) -> tuple[dict[str, ChatEngine], dict[str, EmbeddingEngine]]:
    chat: dict[str, ChatEngine] = {}
    embed: dict[str, EmbeddingEngine] = {}
    for app in apps:
        if app.task == "chat":
            chat[app.entry.id] = RayChatEngine(app.entry.id, app.name, handles,
                                               app.entry.capabilities.context_length, replicas)
        else:
            embed[app.entry.id] = RayEmbeddingEngine(app.entry.id, app.name, handles)
    return chat, embed


def remote_engines(availabilities: list[Availability], clients: ProviderClients) -> dict[str, ChatEngine]:
    """Engines for every available remote model (its key is set and its adapter type is known)."""
    return {a.entry.id: create_remote_engine(a.entry, clients)
            for a in availabilities if a.available and a.entry.kind == "remote"}
