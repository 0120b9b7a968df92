"""Which catalogue models may answer a request at all, before any scoring.

Candidates = chat models with an engine ∩ policy (global, then tenant) ∩ required capabilities (tools,
JSON, images) ∩ context length ∩ healthy. Each step records why it dropped a model, and when a step
leaves nothing, the request gets the error of that step: policy → 403, a missing capability → 400, too
long a prompt → 400 context_length_exceeded, nothing healthy → 503.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from models.catalogue import ModelEntry
from router.errors import NotAllowed
from router.features.request_features import RequestFeatures
from serving.errors import ContextLengthExceeded, EngineUnavailable, InvalidRequest, StellwerkError

__all__ = ["CandidatePolicy", "Filtered", "Rejection", "filter_candidates", "policy_rejection"]

# Output tokens assumed for the context check when the request sets no limit.
_MIN_OUTPUT_TOKENS = 16


class CandidatePolicy(Protocol):
    def reject_reason(self, entry: ModelEntry) -> str | None:
        """Why this policy forbids `entry` for the request, or None if it allows it."""


@dataclass(frozen=True)
class Rejection:
    model: str
    stage: str      # policy | capability | context | health | objective
    reason: str
    local: bool = False


@dataclass(frozen=True)
class Filtered:
    allowed: tuple[ModelEntry, ...]
    rejected: tuple[Rejection, ...]


def filter_candidates(
    models: Sequence[ModelEntry],
    features: RequestFeatures,
    policies: Sequence[CandidatePolicy],
    unhealthy: Callable[[ModelEntry], str | None],
) -> Filtered:
    """Apply the stages in order; raises the error of the first stage that leaves no model."""
    rejected: list[Rejection] = []
    remaining = [m for m in models if m.capabilities.chat]
    stages: list[tuple[str, Callable[[ModelEntry], str | None], _ErrorFactory]] = [
        ("policy", lambda m: policy_rejection(policies, m), _not_allowed),
        ("capability", lambda m: _missing_capability(m, features), _no_capability),
        ("context", lambda m: _too_long(m, features), _too_long_everywhere(features)),
        ("health", unhealthy, _nothing_healthy),
    ]
    for stage, reject, error in stages:
        kept = []
        for m in remaining:
            reason = reject(m)
            if reason is None:
                kept.append(m)
            else:
                rejected.append(Rejection(m.id, stage, reason, m.is_local))
        if not kept:
            reasons = sorted({r.reason for r in rejected if r.stage == stage})
            raise error("; ".join(reasons) or "no chat model is deployed", remaining)
        remaining = kept
    return Filtered(tuple(remaining), tuple(rejected))


def policy_rejection(policies: Sequence[CandidatePolicy], entry: ModelEntry) -> str | None:
    """The first policy's reason to forbid `entry`, or None if every policy allows it."""
    for policy in policies:
        reason = policy.reject_reason(entry)
        if reason is not None:
            return reason
    return None


def _missing_capability(entry: ModelEntry, f: RequestFeatures) -> str | None:
    caps = entry.capabilities
    missing = [name for name, needed, has in (("tools", f.needs_tools, caps.tools),
                                              ("JSON output", f.needs_json, caps.json_mode),
                                              ("images", f.has_images, caps.vision)) if needed and not has]
    return f"does not support {' or '.join(missing)}" if missing else None


def _needed_tokens(f: RequestFeatures) -> int:
    return f.prompt_tokens + (f.max_tokens or _MIN_OUTPUT_TOKENS)


def _too_long(entry: ModelEntry, f: RequestFeatures) -> str | None:
    needed = _needed_tokens(f)
    if needed > entry.capabilities.context_length:
        return f"needs about {needed} tokens; context is {entry.capabilities.context_length}"
    return None


_ErrorFactory = Callable[[str, Sequence[ModelEntry]], StellwerkError]


def _not_allowed(reasons: str, _: Sequence[ModelEntry]) -> StellwerkError:
    return NotAllowed(f"no model this request may use is available: {reasons}", param="model")


def _no_capability(reasons: str, _: Sequence[ModelEntry]) -> StellwerkError:
    return InvalidRequest(f"no available model can serve this request (each {reasons})", param="model")


def _too_long_everywhere(f: RequestFeatures) -> _ErrorFactory:
    def error(_: str, models: Sequence[ModelEntry]) -> StellwerkError:
        longest = max((m.capabilities.context_length for m in models), default=0)
        return ContextLengthExceeded(
            f"the request needs about {_needed_tokens(f)} tokens; the longest context available is "
            f"{longest}", param="messages")
    return error


def _nothing_healthy(reasons: str, _: Sequence[ModelEntry]) -> StellwerkError:
    return EngineUnavailable(f"every model that could serve this request is unhealthy: {reasons}")
