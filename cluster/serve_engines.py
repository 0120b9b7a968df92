"""Wire Serve-backed engines for the router: one engine object per deployed local model."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from cluster.serve_status import ServeStatusWatcher
from models.availability import Availability
from serving.deploy import PlannedApp
from serving.engine import ChatChunk, ChatEngine, EmbeddingEngine, EngineStats
from serving.errors import EngineUnavailable, StellwerkError
from serving.pool_stats import POOL_STATS, PoolStats
from serving.ray_engine import HandleProvider, RayChatEngine, RayEmbeddingEngine, ReplicaCounter
from serving.remote.registry import ProviderClients, create_remote_engine

__all__ = ["PoolChatEngine", "remote_engines", "running_replicas", "serve_engines", "status_aware_handles"]

logger = logging.getLogger(__name__)


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


class PoolChatEngine:
    """A chat model's pool as the router sees it: a `RayChatEngine` whose stats and health say "not
    ready" while the pool has no RUNNING replica (scaled to zero, or the only replica restarting).

    Without this, reading the stats of an empty pool would queue a call in the handle until a
    replica starts, and that queued call would itself make Serve scale the pool up: telemetry would
    keep an idle pool from ever staying at zero. With it, `auto` routing skips the pool (its
    telemetry reads "no ready replica") and sends the request to an allowed remote model; a request
    that names the model still goes to the handle, which wakes the pool (Serve scales from zero on
    queued handle requests), and once a replica is RUNNING the stats are read again and `auto`
    traffic comes back.
    """

    def __init__(self, engine: ChatEngine, app_name: str, replicas: ReplicaCounter,
                 pool_stats: PoolStats = POOL_STATS) -> None:
        self.model_id = engine.model_id
        self._engine = engine
        self._app = app_name
        self._replicas = replicas
        self._pool_stats = pool_stats
        self._waking: asyncio.Future[None] | None = None

    def chat(self, request: Mapping[str, Any]) -> AsyncIterator[ChatChunk]:
        return self._engine.chat(request)

    async def check_health(self) -> None:
        self._require_replica()
        await self._engine.check_health()

    async def stats(self) -> EngineStats:
        """The whole pool's queue as Serve last pushed it from every replica (no call of ours);
        before the first push, the replica a handle call reaches."""
        replicas = self._require_replica()
        pooled = self._pool_stats.totals(self._app)
        if pooled is None:
            return await self._engine.stats()
        return dataclasses.replace(pooled, replicas=replicas)

    def ready(self) -> bool:
        """Whether the pool has a RUNNING replica, as the router last saw Serve's status (no call)."""
        return self._replicas(self._app) > 0

    def wake(self) -> None:
        """Ask Serve for a replica now: a call queued in the handle makes Serve scale the pool up from
        zero. At most one wake-up call is in flight. For the routing engine to call when it skips this
        pool for "no ready replica" (otherwise only a request naming the model wakes it)."""
        if self._waking is None or self._waking.done():
            self._waking = asyncio.ensure_future(self._wake())

    async def _wake(self) -> None:
        try:
            await self._engine.check_health()  # through the handle: waits for the replica
        except StellwerkError as exc:
            logger.info("waking %s: %s", self.model_id, exc.message)

    def _require_replica(self) -> int:
        replicas = self._replicas(self._app)
        if replicas == 0:
            raise EngineUnavailable(f"model {self.model_id!r} has no ready replica (its pool is scaled "
                                    "to zero or starting)")
        return replicas


def serve_engines(apps: list[PlannedApp], handles: HandleProvider, replicas: ReplicaCounter
                  ) -> tuple[dict[str, ChatEngine], dict[str, EmbeddingEngine]]:
    chat: dict[str, ChatEngine] = {}
    embed: dict[str, EmbeddingEngine] = {}
    for app in apps:
        if app.task == "chat":
            engine = RayChatEngine(app.entry.id, app.name, handles, app.entry.capabilities.context_length,
                                   replicas)
            chat[app.entry.id] = PoolChatEngine(engine, app.name, replicas)
        else:
            embed[app.entry.id] = RayEmbeddingEngine(app.entry.id, app.name, handles)
    return chat, embed


def remote_engines(availabilities: list[Availability], clients: ProviderClients) -> dict[str, ChatEngine]:
    """Engines for every available remote model (its key is set and its adapter type is known)."""
    return {a.entry.id: create_remote_engine(a.entry, clients)
            for a in availabilities if a.available and not a.entry.is_local}
