"""Stellwerk's Serve request routers, as Serve ships them to a handle (pickled by value)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import pytest

from serving import pool_stats
from serving.llm_config import PREFIX_ROUTER_PATH, STATS_ROUTER_PATH
from serving.pool_stats import PoolStats


def shipped_class(path: str) -> Any:
    """The router class as a handle gets it: Serve cloudpickles the router's module by value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ray.serve.config import RequestRouterConfig

        config = RequestRouterConfig(request_router_class=path)  # type: ignore[arg-type]
    return config.get_request_router_class()


@dataclass
class ReplicaId:
    full: str

    def to_full_id_str(self) -> str:
        return self.full


@dataclass
class Replica:
    replica_id: ReplicaId
    routing_stats: dict[str, Any]


@dataclass
class Deployment:
    name: str


@dataclass
class Pending:
    args: list[Any] = field(default_factory=list)


@pytest.mark.parametrize("path", [STATS_ROUTER_PATH, PREFIX_ROUTER_PATH])
def test_the_shipped_router_reports_into_this_process_registry(path: str) -> None:
    cls = shipped_class(path)
    record = cls.update_replicas.__globals__["record_pool_stats"]
    router = type("R", (), {"_deployment_id": Deployment("llm-x")})()
    replicas = [Replica(ReplicaId("a"), {"running": 2, "waiting": 1, "kv_cache_usage": 0.5}),
                Replica(ReplicaId("b"), {"running": 1, "waiting": 3, "kv_cache_usage": 0.25})]

    record(router, replicas)

    stats = pool_stats.POOL_STATS.totals("llm-x")
    assert stats is not None
    assert (stats.running, stats.waiting, stats.replicas, stats.kv_cache_usage) == (3, 4, 2, 0.375)
    record(router, replicas[:1])  # a replica is gone: its queue leaves the totals
    assert pool_stats.POOL_STATS.totals("llm-x").running == 2  # type: ignore[union-attr]


def test_replicas_that_have_not_reported_yet_are_not_counted() -> None:
    registry = PoolStats()
    registry.record("llm-y", {"a": {}, "b": {}})
    assert registry.totals("llm-y") is None
    assert registry.totals("llm-unknown") is None


def test_the_prefix_router_reads_the_prompt_from_a_dict_request() -> None:
    cls = shipped_class(PREFIX_ROUTER_PATH)
    router = object.__new__(cls)
    body = {"model": "m", "messages": [{"role": "system", "content": "Be brief. "},
                                       {"role": "user", "content": "Hello"}]}

    assert router._extract_text_from_request(Pending([body])) == "Be brief. Hello"
    empty = {"messages": [{"role": "user", "content": ""}]}
    assert router._extract_text_from_request(Pending([empty])) is None
