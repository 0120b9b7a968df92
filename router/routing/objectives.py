"""The routing objectives: how each one orders the assessed candidates (`rank`), and its settings.

An objective is a strict pydantic model (its `type` is the tag in the routing configuration's
`objectives:`) that satisfies `router.routing.decision.RankingObjective`: `rank()` returns the try order,
a reason code, a one-line explanation and a note for each candidate it ruled out; `ttft_target_s` is the
latency target spillover measures local models against (None: none); `local_only` keeps requests on our
own machines. A new objective is one class here, added to the `Objective` union: nothing else changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.categories import CATEGORIES
from router.features.request_features import RequestFeatures
from router.routing.decision import Assessment, Ranking, utility

__all__ = [
    "OBJECTIVE_TYPES",
    "BestQualityObjective",
    "CheapestObjective",
    "LocalOnlyObjective",
    "Objective",
    "ValueObjective",
]


class _Objective(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def local_only(self) -> bool:
        return False


class CheapestObjective(_Objective):
    """The cheapest model whose expected quality meets the floor and whose predicted TTFT meets the
    target. Hard prompts (quality estimator's p_weak_ok below `hard_threshold`) use the higher floor."""

    type: Literal["cheapest"]
    quality_floor: float = Field(default=0.5, ge=0, le=1)
    hard_quality_floor: float = Field(default=0.8, ge=0, le=1)
    hard_threshold: float = Field(default=0.65, ge=0, le=1,
                                  description="p_weak_ok below this makes a prompt 'hard'.")
    hard_categories: frozenset[str] | None = Field(
        default=frozenset({"knowledge", "math", "reasoning"}),
        description="Categories where the quality estimator is trusted (it learned from exam questions "
                    "and maths problems); None: every category.")
    ttft_target_s: float | None = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _floors_ordered(self) -> CheapestObjective:
        if self.hard_quality_floor < self.quality_floor:
            raise ValueError("hard_quality_floor must be at least quality_floor")
        unknown = (self.hard_categories or frozenset()) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown hard_categories {sorted(unknown)}; "
                         f"categories are {', '.join(CATEGORIES)}")
        return self

    def rank(self, features: RequestFeatures, assessed: Sequence[Assessment],
             cost_weight: float | None = None) -> Ranking:
        floor = self.floor(features)
        return Ranking(*_cheapest(self, floor, features, assessed), floor=floor)

    def floor(self, f: RequestFeatures) -> float:
        """The quality floor for this request: the higher one for a prompt the estimator finds hard."""
        trusted = self.hard_categories is None or f.category in self.hard_categories
        if trusted and f.p_weak_ok is not None and f.p_weak_ok < self.hard_threshold:
            return self.hard_quality_floor
        return self.quality_floor


class BestQualityObjective(_Objective):
    """The highest expected quality whose estimated cost fits the per-request budget."""

    type: Literal["best-quality"]
    budget_per_request: float = Field(default=0.05, gt=0, description="In the models' currency.")
    ttft_target_s: float | None = Field(default=None, gt=0)

    def rank(self, features: RequestFeatures, assessed: Sequence[Assessment],
             cost_weight: float | None = None) -> Ranking:
        return Ranking(*_best_quality(self, assessed))


class ValueObjective(_Objective):
    """The candidate with the highest predicted quality - cost_weight x estimated cost (USD).

    Predicted quality is P(a good answer) for this prompt and model (router.quality); `cost_weight` is
    how many quality points (0..1) one unit of currency is worth giving up, so a model that costs
    $0.002 more must be predicted at least `0.002 x cost_weight` better. Candidates predicted below
    `min_quality` are chosen only when no other candidate is left (a base model gets only what it can
    answer). Per request, `x-stellwerk-cost-weight` overrides `cost_weight`."""

    type: Literal["value"]
    cost_weight: float = Field(default=20.0, ge=0, description="Quality points per unit of currency.")
    min_quality: float = Field(default=0.35, ge=0, le=1)
    quality_cap: float = Field(
        default=1.0, gt=0, le=1,
        description="Predicted quality above this counts as this (satisficing): among models predicted "
                    "at least this good, the cheapest wins, so easy prompts stay on cheap models.")
    ttft_target_s: float | None = Field(default=2.0, gt=0)

    def rank(self, features: RequestFeatures, assessed: Sequence[Assessment],
             cost_weight: float | None = None) -> Ranking:
        weight = self.cost_weight if cost_weight is None else cost_weight
        return Ranking(*_best_value(self, weight, assessed), floor=self.min_quality, cost_weight=weight,
                       quality_cap=self.quality_cap)


class LocalOnlyObjective(_Objective):
    """Only models on our own machines; never spills over (requests queue instead)."""

    type: Literal["local-only"]

    @property
    def local_only(self) -> bool:
        return True

    @property
    def ttft_target_s(self) -> float | None:
        return None

    def rank(self, features: RequestFeatures, assessed: Sequence[Assessment],
             cost_weight: float | None = None) -> Ranking:
        order = sorted(assessed, key=lambda a: (a.predicted_ttft_s, a.est_cost, -_q(a)))
        return Ranking(order, "local-only", f"{order[0].entry.id}: the soonest local model", {})


# NOTE: a new objective is a class here (with its `type` and `rank`) added to this union.
Objective = Annotated[ValueObjective | CheapestObjective | BestQualityObjective | LocalOnlyObjective,
                      Field(discriminator="type")]
# The `type` of each objective (pydantic names a union's member in error locations; YAML has no such key).
OBJECTIVE_TYPES = frozenset(get_args(m.model_fields["type"].annotation)[0]
                            for m in get_args(get_args(Objective)[0]))


# --- the rankings -----------------------------------------------------------------------------------


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
