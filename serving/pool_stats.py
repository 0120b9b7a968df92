"""Queue depth of every replica of a pool, as Ray Serve already delivers it to each deployment handle.

Serve's controller calls `record_routing_stats()` on every replica every
`request_routing_stats_period_s` and pushes changed results to every handle's request router with the
replica set (`RunningReplica.routing_stats`). Stellwerk's request routers (`serving.replica_router`)
copy that into `POOL_STATS` as it arrives, so the router's telemetry reads the whole pool's queue — every
replica, not only the one a handle call would reach — without a call of its own.

NOTE: a module-level registry, because Ray constructs request routers itself (by import path) in the
process that holds the handle; nothing can be injected into them. It is written from Serve's router
thread and read from the router's event loop, so it takes a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from serving.engine import EngineStats

__all__ = ["POOL_STATS", "PoolStats"]


class PoolStats:
    """The latest routing stats of each replica, per deployment."""

    def __init__(self) -> None:
        self._pools: dict[str, dict[str, Mapping[str, Any]]] = {}
        self._lock = threading.Lock()

    def record(self, deployment: str, replicas: Mapping[str, Mapping[str, Any]]) -> None:
        """Replace the deployment's replica set (replicas that are gone disappear with it)."""
        with self._lock:
            self._pools[deployment] = {r: dict(s) for r, s in replicas.items()}

    def replicas(self, deployment: str) -> dict[str, dict[str, Any]]:
        """The latest routing stats of each of the deployment's replicas, by replica id."""
        with self._lock:
            return {r: dict(s) for r, s in self._pools.get(deployment, {}).items()}

    def totals(self, deployment: str) -> EngineStats | None:
        """The pool's queue summed over replicas that reported (None before any did)."""
        with self._lock:
            reported = [s for s in self._pools.get(deployment, {}).values() if "running" in s]
        if not reported:
            return None
        usages = [float(s["kv_cache_usage"]) for s in reported if s.get("kv_cache_usage") is not None]
        return EngineStats(running=sum(int(s["running"]) for s in reported),
                           waiting=sum(int(s.get("waiting") or 0) for s in reported),
                           replicas=len(reported),
                           kv_cache_usage=sum(usages) / len(usages) if usages else None)


POOL_STATS = PoolStats()
