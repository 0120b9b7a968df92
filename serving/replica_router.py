"""Ray Serve request routers for Stellwerk's pools: Ray picks the replica, and reports every replica's queue.

Inside one model's pool our router only picks the pool; Ray picks the replica:
* `DictPrefixCacheRouter` (pools of several replicas): Ray's `PrefixCacheAffinityRouter` — requests
  sharing a prompt prefix go to the replica that has served it (vLLM's prefix cache hits) while the
  queues are balanced, power of two choices when not. It reads the prompt from a request argument's
  `.messages`; Stellwerk calls `chat_deltas` with a plain dict (so the router process never imports
  vLLM), so this subclass also reads `messages` from a dict.
* `PoolStatsRouter`: Serve's default power of two choices.
Both copy each replica's routing stats (the engine's queue, from `record_routing_stats`) into
`serving.pool_stats.POOL_STATS` whenever Serve pushes a new replica set.

NOTE: `PrefixCacheAffinityRouter` is imported from Ray's internal module, not from
`ray.serve.llm.request_router`: that public path imports vLLM and torch (~40 s, ~800 MB), and request
routers run in the process that holds the deployment handle — the Stellwerk router.
`_extract_text_from_request` and `update_replicas` are hooks of ray 2.60 (pinned);
tests/unit/test_replica_router.py fails if they change.
"""

from __future__ import annotations

from typing import Any

from ray.llm._internal.serve.routing_policies.prefix_aware.prefix_aware_router import (
    PrefixCacheAffinityRouter,
)
from ray.serve._private.request_router.pow_2_router import PowerOfTwoChoicesRequestRouter

# NOTE: the module, not POOL_STATS itself: Serve pickles this module by value when it ships the
# router class to the handles, and the registry must be the one in the handle's process.
from serving import pool_stats

__all__ = ["DictPrefixCacheRouter", "PoolStatsRouter", "record_pool_stats"]


def record_pool_stats(router: Any, replicas: list[Any]) -> None:
    """Copy the routing stats of `replicas` (Serve's RunningReplica objects) into POOL_STATS."""
    deployment = router._deployment_id.name if getattr(router, "_deployment_id", None) else None
    if deployment is not None:
        pool_stats.POOL_STATS.record(deployment, {r.replica_id.to_full_id_str(): r.routing_stats or {}
                                                  for r in replicas})


class PoolStatsRouter(PowerOfTwoChoicesRequestRouter):
    """Serve's default router, reporting every replica's queue to `POOL_STATS`."""

    def update_replicas(self, replicas: list[Any]) -> None:
        record_pool_stats(self, replicas)
        super().update_replicas(replicas)


class DictPrefixCacheRouter(PrefixCacheAffinityRouter):
    """`PrefixCacheAffinityRouter` that also finds `messages` in a dict request argument."""

    def update_replicas(self, replicas: list[Any]) -> None:
        record_pool_stats(self, replicas)
        super().update_replicas(replicas)

    def _extract_text_from_request(self, pending_request: Any) -> str | None:  # type: ignore[override]
        """The prompt's text; None (no prefix matching) for an empty prompt, which Ray's match rate
        would divide by."""
        text: str | None = None
        for arg in pending_request.args:
            if isinstance(arg, dict) and ("messages" in arg or "prompt" in arg):
                text = str(self._normalize_prompt_to_string(arg.get("messages", arg.get("prompt"))))
                break
        else:
            text = str(super()._extract_text_from_request(pending_request))
        return text or None
