"""Score the candidates under the request's objective and order them: the choice, then fallbacks.

Input per candidate (`Assessment`): expected quality for the task category (quality table), estimated
cost (prompt tokens and expected output tokens times the catalogue prices), predicted TTFT from live load
(`latency.py`), and whether a local model is overloaded (`spillover.py`, with hysteresis). The result
names the chosen model, a short reason code (a Prometheus label, so a small fixed set) and a one-line
explanation, and keeps every candidate's numbers for the decision log and `POST /v1/route`.

Reason codes:
    cheapest       the cheapest candidate that meets the objective's quality floor and TTFT target
    quality-floor  a cheaper candidate was skipped for its expected quality in this task category
    hard-prompt    ... skipped because the quality estimator found the prompt hard for small models
    spillover      a cheaper local candidate was skipped because its predicted TTFT misses the target
    best-value     the highest predicted quality - cost_weight x cost (the `value` objective)
    best-quality   the best expected quality within the per-request budget
    local-only     the objective keeps the request on our machines
    best-effort    no candidate met every target; the nearest one
    capability     (instead of `cheapest`) a remote model, because the local ones lack a capability
    context-length ... because the prompt does not fit the local models' context
    unhealthy      ... because the local models are failing or not ready
    session        the model this conversation used before (session affinity; see affinity.py)
    frontier-budget  a frontier model would have won, but the frontier budget is spent (see budget.py)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from models.catalogue import ModelEntry
from router.features.request_features import RequestFeatures
from router.routing.candidates import Rejection

__all__ = ["Assessment", "Decision", "Ranking", "RankingObjective", "ScoredCandidate", "rank", "utility"]


@dataclass(frozen=True)
class Assessment:
    """What the decision knows of one allowed candidate."""

    entry: ModelEntry
    quality: float | None     # None: the model has no row in the quality table
    est_cost: float           # in the entry's currency
    predicted_ttft_s: float
    queued: int
    overloaded: bool          # local and spilling for this objective
    gpu_note: str | None = None  # local GPU model whose GPUs are saturated (NVML), and why
    frontier: bool = False       # counts against frontier budgets

    @property
    def local(self) -> bool:
        return self.entry.is_local


@dataclass(frozen=True)
class ScoredCandidate:
    model: str
    provider: str
    kind: str
    quality: float | None
    est_cost: float
    predicted_ttft_s: float | None
    queued: int | None
    eligible: bool
    note: str                 # why not eligible, or why rejected before scoring
    utility: float | None = None  # value objective: quality - cost_weight x cost
    frontier: bool = False


@dataclass(frozen=True)
class Decision:
    objective: str
    chosen: ModelEntry
    reason: str
    explanation: str
    order: tuple[ModelEntry, ...]           # try order: the choice first, then fallbacks
    candidates: tuple[ScoredCandidate, ...]
    features: RequestFeatures
    quality_floor: float | None
    cost_weight: float | None = None
    quality_cap: float = 1.0
    session: str | None = None        # the session key's short digest, when the request has one
    budget_note: str | None = None    # what the frontier budget said, when one applied

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.chosen.id,
            "reason": self.reason,
            "explanation": self.explanation,
            "objective": self.objective,
            "quality_floor": self.quality_floor,
            "cost_weight": self.cost_weight,
            "quality_cap": self.quality_cap,
            "session": self.session,
            "budget": self.budget_note,
            "fallback_order": [e.id for e in self.order[1:]],
            "features": self.features.to_json(),
            "candidates": [{k: _round(getattr(c, k)) for k in _CANDIDATE_FIELDS} for c in self.candidates],
        }


# NOTE: not `dataclasses.asdict`, which deep-copies every value: it was half of a decision's CPU.
_CANDIDATE_FIELDS = tuple(f.name for f in fields(ScoredCandidate))


def _round(value: object) -> object:
    return round(value, 6) if isinstance(value, float) else value


def utility(a: Assessment, cost_weight: float, cap: float = 1.0) -> float:
    """Predicted quality (counted up to `cap`) minus what its estimated cost is worth in quality points."""
    quality = a.quality if a.quality is not None else 0.0
    return min(quality, cap) - cost_weight * a.est_cost


@dataclass(frozen=True)
class Ranking:
    """An objective's verdict: the try order (every assessed candidate), a reason code, a one-line
    explanation, and why each candidate it ruled out was ruled out (by model id)."""

    order: Sequence[Assessment]
    reason: str
    explanation: str
    notes: dict[str, str] = field(default_factory=dict)
    floor: float | None = None          # the quality floor it applied, if any
    cost_weight: float | None = None    # the value objective's weight, if any
    quality_cap: float = 1.0


class RankingObjective(Protocol):
    """What routing needs of an objective (`router.routing.objectives` has the configurable ones)."""

    @property
    def ttft_target_s(self) -> float | None:
        """The TTFT target a local model spills over at; None: the objective has none."""

    @property
    def local_only(self) -> bool:
        """Whether only local models may answer."""

    def rank(self, features: RequestFeatures, assessed: Sequence[Assessment],
             cost_weight: float | None = None) -> Ranking:
        """Order `assessed` (non-empty); `cost_weight` overrides the objective's own, where it has one."""


def rank(name: str, objective: RankingObjective, features: RequestFeatures, assessed: Sequence[Assessment],
         rejected: Sequence[Rejection], *, cost_weight: float | None = None) -> Decision:
    """Order `assessed` (non-empty) under `objective` and explain the first. `cost_weight` overrides a
    value objective's own (a per-request or per-tenant setting)."""
    ranking = objective.rank(features, assessed, cost_weight)
    order, reason = ranking.order, ranking.reason
    if reason in ("cheapest", "best-value") and not order[0].local:
        reason = _why_not_local(rejected, reason)
    scored = [_scored(a, ranking.notes.get(a.entry.id), ranking.cost_weight, ranking.quality_cap)
              for a in assessed]
    scored += [ScoredCandidate(r.model, "", "", None, 0.0, None, None, False, f"{r.stage}: {r.reason}")
               for r in rejected]
    return Decision(name, order[0].entry, reason, ranking.explanation, tuple(a.entry for a in order),
                    tuple(scored), features, ranking.floor, ranking.cost_weight, ranking.quality_cap)


_LOCAL_REJECTION_REASONS = {"capability": "capability", "context": "context-length", "health": "unhealthy"}


def _why_not_local(rejected: Sequence[Rejection], reason: str) -> str:
    """A remote choice is cheapest only among what was left: say why the local models were not."""
    for r in rejected:
        if r.local and r.stage in _LOCAL_REJECTION_REASONS:
            return _LOCAL_REJECTION_REASONS[r.stage]
    return reason


def _scored(a: Assessment, note: str | None, weight: float | None, cap: float) -> ScoredCandidate:
    return ScoredCandidate(a.entry.id, a.entry.provider, a.entry.kind, a.quality, a.est_cost,
                           a.predicted_ttft_s, a.queued if a.local else None, note is None, note or "ok",
                           None if weight is None else utility(a, weight, cap), a.frontier)
