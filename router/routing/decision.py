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
from dataclasses import dataclass, fields
from typing import Any

from models.catalogue import ModelEntry
from router.features.request_features import RequestFeatures
from router.routing.candidates import Rejection
from router.routing.config import (
    BestQualityObjective,
    CheapestObjective,
    LocalOnlyObjective,
    Objective,
    ValueObjective,
)

__all__ = ["Assessment", "Decision", "ScoredCandidate", "rank", "utility"]


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
        return self.entry.kind == "local"


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
    return min(_q(a), cap) - cost_weight * a.est_cost


def rank(name: str, objective: Objective, features: RequestFeatures, assessed: Sequence[Assessment],
         rejected: Sequence[Rejection], *, cost_weight: float | None = None) -> Decision:
    """Order `assessed` (non-empty) under `objective` and explain the first. `cost_weight` overrides a
    value objective's own (a per-request or per-tenant setting)."""
    weight, cap = None, 1.0
    if isinstance(objective, ValueObjective):
        floor, cap = objective.min_quality, objective.quality_cap
        weight = objective.cost_weight if cost_weight is None else cost_weight
        order, reason, why, notes = _best_value(objective, weight, assessed)
    elif isinstance(objective, CheapestObjective):
        floor = _floor(objective, features)
        order, reason, why, notes = _cheapest(objective, floor, features, assessed)
    elif isinstance(objective, BestQualityObjective):
        floor = None
        order, reason, why, notes = _best_quality(objective, assessed)
    else:
        floor = None
        order, reason, why, notes = _local_only(objective, assessed)
    if reason in ("cheapest", "best-value") and order[0].entry.kind != "local":
        reason = _why_not_local(rejected, reason)
    scored = [_scored(a, notes.get(a.entry.id), weight, cap) for a in assessed]
    scored += [ScoredCandidate(r.model, "", "", None, 0.0, None, None, False, f"{r.stage}: {r.reason}")
               for r in rejected]
    return Decision(name, order[0].entry, reason, why, tuple(a.entry for a in order), tuple(scored),
                    features, floor, weight, cap)


_LOCAL_REJECTION_REASONS = {"capability": "capability", "context": "context-length", "health": "unhealthy"}


def _why_not_local(rejected: Sequence[Rejection], reason: str) -> str:
    """A remote choice is cheapest only among what was left: say why the local models were not."""
    for r in rejected:
        if r.local and r.stage in _LOCAL_REJECTION_REASONS:
            return _LOCAL_REJECTION_REASONS[r.stage]
    return reason


def _floor(objective: CheapestObjective, f: RequestFeatures) -> float:
    trusted = objective.hard_categories is None or f.category in objective.hard_categories
    if trusted and f.p_weak_ok is not None and f.p_weak_ok < objective.hard_threshold:
        return objective.hard_quality_floor
    return objective.quality_floor


def _q(a: Assessment) -> float:
    return a.quality if a.quality is not None else 0.0


def _cost_key(a: Assessment) -> tuple[float, bool, float, float]:
    """Cheapest first; on equal cost local first, then the sooner, then the better."""
    return (a.est_cost, not a.local, a.predicted_ttft_s, -_q(a))


def _too_slow(a: Assessment, target: float | None) -> bool:
    if target is None:
        return False
    return a.overloaded if a.local else a.predicted_ttft_s > target


def _cheapest(objective: CheapestObjective, floor: float, f: RequestFeatures,
              assessed: Sequence[Assessment]) -> tuple[list[Assessment], str, str, dict[str, str]]:
    target = objective.ttft_target_s
    hard = floor > objective.quality_floor
    notes: dict[str, str] = {}
    for a in assessed:
        if _q(a) < floor:
            notes[a.entry.id] = (f"quality {_q(a):.2f} < floor {floor:.2f}"
                                 + (f" (hard prompt, p_weak_ok {f.p_weak_ok:.2f})" if hard else ""))
        elif target is not None and _too_slow(a, target):
            notes[a.entry.id] = _slow_note(a, target)
    eligible = sorted((a for a in assessed if a.entry.id not in notes), key=_cost_key)
    if not eligible:
        return _best_effort(assessed, floor, notes, f"meets quality floor {floor:.2f} and TTFT target")
    chosen = eligible[0]
    cheaper = [a for a in sorted(assessed, key=_cost_key) if _cost_key(a) < _cost_key(chosen)]
    skipped = cheaper[0] if cheaper else None
    if skipped is None:
        reason, why = "cheapest", f"cheapest model meeting quality floor {floor:.2f} for {f.category}"
    elif _q(skipped) < floor:
        reason = "hard-prompt" if hard else "quality-floor"
        why = f"{skipped.entry.id} skipped: {notes[skipped.entry.id]} for {f.category}"
    else:
        reason, why = "spillover", f"{skipped.entry.id} skipped: {notes[skipped.entry.id]}"
    rest = sorted((a for a in assessed if a.entry.id in notes), key=lambda a: _fallback_key(a, floor))
    return [*eligible, *rest], reason, why, notes


def _slow_note(a: Assessment, target: float) -> str:
    note = f"predicted TTFT {a.predicted_ttft_s:.2f} s > target {target:g} s"
    if a.gpu_note:
        return f"{a.gpu_note} (predicted TTFT {a.predicted_ttft_s:.2f} s, target {target:g} s)"
    if a.local and target is not None and a.predicted_ttft_s <= target:
        # Spilling by hysteresis: below the target but not yet below the return threshold.
        return (f"spilling until predicted TTFT drops further (now {a.predicted_ttft_s:.2f} s, "
                f"target {target:g} s)")
    return note


def _fallback_key(a: Assessment, floor: float) -> tuple[bool, float, float]:
    """Ineligible candidates: good-enough ones first (soonest), then the rest by quality."""
    good = _q(a) >= floor
    return (not good, a.predicted_ttft_s if good else 0.0, -_q(a))


def _best_effort(assessed: Sequence[Assessment], floor: float, notes: dict[str, str],
                 missed: str) -> tuple[list[Assessment], str, str, dict[str, str]]:
    order = sorted(assessed, key=lambda a: _fallback_key(a, floor))
    return order, "best-effort", f"no candidate {missed}; nearest is {order[0].entry.id}", notes


def _best_quality(objective: BestQualityObjective,
                  assessed: Sequence[Assessment]) -> tuple[list[Assessment], str, str, dict[str, str]]:
    notes: dict[str, str] = {}
    for a in assessed:
        if a.est_cost > objective.budget_per_request:
            notes[a.entry.id] = f"estimated cost {a.est_cost:.4f} > budget {objective.budget_per_request:g}"
        elif objective.ttft_target_s is not None and _too_slow(a, objective.ttft_target_s):
            notes[a.entry.id] = _slow_note(a, objective.ttft_target_s)
    eligible = sorted((a for a in assessed if a.entry.id not in notes),
                      key=lambda a: (-_q(a), a.est_cost, not a.local))
    rest = sorted((a for a in assessed if a.entry.id in notes), key=lambda a: (a.est_cost, -_q(a)))
    if not eligible:
        return rest, "best-effort", f"no candidate within the budget; cheapest is {rest[0].entry.id}", notes
    top = eligible[0]
    return ([*eligible, *rest], "best-quality",
            f"quality {_q(top):.2f}, the best within budget {objective.budget_per_request:g}", notes)


def _best_value(objective: ValueObjective, weight: float,
                assessed: Sequence[Assessment]) -> tuple[list[Assessment], str, str, dict[str, str]]:
    target = objective.ttft_target_s
    notes: dict[str, str] = {}
    slow: list[Assessment] = []
    for a in assessed:
        if _q(a) < objective.min_quality:
            notes[a.entry.id] = f"predicted quality {_q(a):.2f} < minimum {objective.min_quality:.2f}"
        elif target is not None and _too_slow(a, target):
            notes[a.entry.id] = _slow_note(a, target)
            slow.append(a)

    def key(a: Assessment) -> tuple[float, bool, float]:
        return (-utility(a, weight, objective.quality_cap), not a.local, a.predicted_ttft_s)

    eligible = sorted((a for a in assessed if a.entry.id not in notes), key=key)
    rest = sorted((a for a in assessed if a.entry.id in notes), key=key)
    if not eligible:
        return _best_effort(assessed, objective.min_quality, notes,
                            "meets the minimum quality and TTFT target")
    top = eligible[0]
    better_but_slow = sorted((a for a in slow if key(a) < key(top)), key=key)
    if better_but_slow:
        skipped = better_but_slow[0].entry.id
        return [*eligible, *rest], "spillover", f"{skipped} skipped: {notes[skipped]}", notes
    cap = objective.quality_cap
    why = (f"predicted quality {_q(top):.2f} at cost {top.est_cost:.5f}: the best min(quality, {cap:g}) "
           f"- {weight:g} x cost ({utility(top, weight, cap):.3f})")
    return [*eligible, *rest], "best-value", why, notes


def _local_only(_: LocalOnlyObjective,
                assessed: Sequence[Assessment]) -> tuple[list[Assessment], str, str, dict[str, str]]:
    order = sorted(assessed, key=lambda a: (a.predicted_ttft_s, a.est_cost, -_q(a)))
    return order, "local-only", f"{order[0].entry.id}: the soonest local model", {}


def _scored(a: Assessment, note: str | None, weight: float | None, cap: float) -> ScoredCandidate:
    return ScoredCandidate(a.entry.id, a.entry.provider, a.entry.kind, a.quality, a.est_cost,
                           a.predicted_ttft_s, a.queued if a.local else None, note is None, note or "ok",
                           None if weight is None else utility(a, weight, cap), a.frontier)
