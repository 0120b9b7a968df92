"""Ray Serve's prefix-cache-affinity request router, for Stellwerk's chat deployments.

Inside one model's pool our router only picks the pool; Ray picks the replica. Ray's
`PrefixCacheAffinityRouter` sends requests that share a prompt prefix to the replica that has served
it (so vLLM's prefix cache hits) while the replicas' queues are balanced, and falls back to power of
two choices when they are not. It reads the prompt from a request argument's `.messages` attribute;
Stellwerk's router calls `chat_from_dict` with a plain dict (so that it never imports vLLM), so this
subclass also reads `messages` from a dict argument.

NOTE: the class is imported from Ray's internal module, not from `ray.serve.llm.request_router`:
that public path imports vLLM and torch (~40 s, ~800 MB), and the request router runs inside the
process that holds the deployment handle — the Stellwerk router. `_extract_text_from_request` is a
private hook of ray 2.60 (ray is pinned); tests/unit/test_replica_router.py fails if it changes.
"""

from __future__ import annotations

from typing import Any

from ray.llm._internal.serve.routing_policies.prefix_aware.prefix_aware_router import (
    PrefixCacheAffinityRouter,
)

__all__ = ["DictPrefixCacheRouter"]



class DictPrefixCacheRouter(PrefixCacheAffinityRouter):
    """`PrefixCacheAffinityRouter` that also finds `messages` in a dict request argument."""

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
