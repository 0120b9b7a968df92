"""Objectives plug into the decision through `RankingObjective` alone (router/routing/objectives.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.catalogue import load_catalogue
from router.features.request_features import RequestFeatures
from router.routing.decision import Assessment, Ranking, RankingObjective, rank
from router.routing.objectives import OBJECTIVE_TYPES, LocalOnlyObjective, ValueObjective


@dataclass(frozen=True)
class SoonestObjective:
    """An objective the shipped code does not know: the soonest predicted first token wins."""

    ttft_target_s: float | None = None
    local_only: bool = False

    def rank(self, features: RequestFeatures, assessed: Sequence[Assessment],
             cost_weight: float | None = None) -> Ranking:
        order = sorted(assessed, key=lambda a: a.predicted_ttft_s)
        return Ranking(order, "soonest", f"{order[0].entry.id} answers first",
                       {a.entry.id: "later" for a in order[1:]})


def _assessed() -> list[Assessment]:
    entries = {e.id: e for e in load_catalogue().models}
    return [Assessment(entries["gemma-3-270m"], 0.4, 0.0, 3.0, 5, False),
            Assessment(entries["openai/gpt-4o-mini"], 0.8, 0.001, 0.5, 0, False)]


def _features() -> RequestFeatures:
    return RequestFeatures(20, 10, False, False, False, "en", "chat", 0.9, None)


def test_a_new_objective_needs_only_its_own_rank() -> None:
    objective: RankingObjective = SoonestObjective()
    decision = rank("soonest", objective, _features(), _assessed(), [])
    assert decision.chosen.id == "openai/gpt-4o-mini"
    assert decision.reason == "soonest"
    assert [c.note for c in decision.candidates] == ["later", "ok"]


def test_the_shipped_objectives_say_their_latency_target_and_locality() -> None:
    local_only = LocalOnlyObjective(type="local-only")
    value = ValueObjective(type="value", ttft_target_s=1.5)
    assert (local_only.local_only, local_only.ttft_target_s) == (True, None)
    assert (value.local_only, value.ttft_target_s) == (False, 1.5)
    decision = rank("local", local_only, _features(), _assessed()[:1], [])
    assert (decision.chosen.id, decision.reason) == ("gemma-3-270m", "local-only")


def test_the_configuration_knows_every_objective_type() -> None:
    assert {"value", "cheapest", "best-quality", "local-only"} == OBJECTIVE_TYPES
