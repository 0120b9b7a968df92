"""Which model Stellwerk's objective picks for each slice of the traffic (category x easy/hard).

This runs the router's own decision (`router.routing.decision.rank`) on one representative request per
slice: the traffic's mean prompt and output length, the category, and p_weak_ok 1.0 (easy) or 0.0
(hard; `hard_share` of the objective's hard categories). Candidates are the local models that have a
performance profile plus the catalogue's remote chat models, minus what the routing policy forbids and
what the prompt does not fit. Load is left out (no model overloaded, TTFT at the configured priors): the
planner handles load itself, by sizing replicas and spilling what exceeds them to `spill_to`, the first
remote model in the decision's fallback order (where the router's spillover sends it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from models.catalogue import Catalogue, ModelEntry
from models.quality import QualityTable
from router.features.request_features import RequestFeatures
from router.routing.candidates import Rejection
from router.routing.config import RoutingConfig
from router.routing.decision import Assessment, rank
from router.routing.objectives import CheapestObjective

__all__ = ["RouteShare", "request_cost", "route_shares"]


@dataclass(frozen=True)
class RouteShare:
    """A slice of the traffic and where it goes."""

    category: str
    hard: bool
    share: float            # of all requests
    model: str
    reason: str
    spill_to: str | None    # first remote model in the fallback order (None: nowhere to spill)


def request_cost(entry: ModelEntry, input_tokens: float, output_tokens: float) -> float:
    """Catalogue price of one request of the given shape (0 for local models)."""
    p = entry.pricing
    return (input_tokens * p.input_per_mtok + output_tokens * p.output_per_mtok) / 1e6


def route_shares(*, catalogue: Catalogue, quality: QualityTable, config: RoutingConfig, objective: str,
                 local_models: Iterable[str], task_mix: dict[str, float], hard_share: float,
                 input_tokens: float, output_tokens: float) -> list[RouteShare]:
    """The routing table for the traffic (slices with zero share are left out)."""
    name, obj = config.objective(objective)
    hard_categories = obj.hard_categories if isinstance(obj, CheapestObjective) else None
    entries, rejected = _candidates(catalogue, config, set(local_models), input_tokens + output_tokens)
    if not entries:
        raise ValueError("no candidate model: no local profile and no allowed remote chat model")
    shares: list[RouteShare] = []
    for category, share in task_mix.items():
        hard_part = hard_share if (hard_categories is None or category in hard_categories) else 0.0
        for hard, part in ((False, 1 - hard_part), (True, hard_part)):
            if share * part <= 0:
                continue
            features = RequestFeatures(int(input_tokens), int(output_tokens), False, False, False, "en",
                                       category, 1.0, 0.0 if hard else 1.0)
            assessed = [_assess(e, quality, config, category, input_tokens, output_tokens) for e in entries]
            decision = rank(name, obj, features, assessed, rejected)
            spill = next((e.id for e in decision.order if not e.is_local), None)
            shares.append(RouteShare(category, hard, share * part, decision.chosen.id, decision.reason,
                                     spill))
    return shares


def _candidates(catalogue: Catalogue, config: RoutingConfig, local: set[str],
                total_tokens: float) -> tuple[list[ModelEntry], list[Rejection]]:
    entries: list[ModelEntry] = []
    rejected: list[Rejection] = []
    for e in catalogue.models:
        if not e.capabilities.chat or e.task != "chat" or (e.is_local and e.id not in local):
            continue
        why = config.policy.reject_reason(e)
        if why is None and total_tokens > e.capabilities.context_length:
            rejected.append(Rejection(e.id, "context", "prompt + output exceed the context",
                                      e.is_local))
        elif why is not None:
            rejected.append(Rejection(e.id, "policy", why, e.is_local))
        else:
            entries.append(e)
    return entries, rejected


def _assess(entry: ModelEntry, quality: QualityTable, config: RoutingConfig, category: str,
            input_tokens: float, output_tokens: float) -> Assessment:
    local = entry.is_local
    priors = config.latency
    ttft = priors.local_base_ttft_s if local else priors.remote_base_ttft_s
    return Assessment(entry, quality.score(entry.id, category), request_cost(entry, input_tokens,
                      output_tokens), ttft, 0, False)
