"""The routing table the planner uses comes from the router's own decision on the shipped data."""

from __future__ import annotations

import pytest

from benchmarks.planner.routing import route_shares
from models.catalogue import load_catalogue
from models.quality import QualityTable
from router.routing.config import load_routing_config


def _routes(local: list[str], mix: dict[str, float], hard: float = 0.1, deny: list[str] | None = None,
            objective: str = "good-enough") -> dict[tuple[str, bool], tuple[str, float, str | None]]:
    config = load_routing_config()
    if deny:
        config = config.model_copy(update={"policy": config.policy.model_copy(update={"deny_models": deny})})
    shares = route_shares(catalogue=load_catalogue(), quality=QualityTable.load(), config=config,
                          objective=objective, local_models=local, task_mix=mix, hard_share=hard,
                          input_tokens=200, output_tokens=100)
    return {(r.category, r.hard): (r.model, r.share, r.spill_to) for r in shares}


def _cheapest_remote(category: str, floor: float) -> str:
    """The remote chat model the floor-based objective should pick: the cheapest per request of this
    shape (200 in, 100 out) whose published score for the category meets the floor, better first."""
    table = QualityTable.load()
    remote = [e for e in load_catalogue().models if not e.is_local and e.task == "chat"
              and (table.score(e.id, category) or 0.0) >= floor]
    return min(remote, key=lambda e: (200 * e.pricing.input_per_mtok + 100 * e.pricing.output_per_mtok,
                                      -(table.score(e.id, category) or 0.0))).id


def test_good_enough_keeps_easy_work_local_and_sends_maths_to_a_good_enough_remote() -> None:
    routes = _routes(["gemma-3-270m"], {"chit_chat": 0.5, "math": 0.5})
    model, share, spill = routes[("chit_chat", False)]
    assert model == "gemma-3-270m" and share == pytest.approx(0.5)
    assert spill == _cheapest_remote("chit_chat", 0.5)  # the cheapest remote meeting the 0.5 floor
    assert routes[("math", False)][0] == _cheapest_remote("math", 0.5)  # gemma's maths is below it
    assert routes[("math", False)][1] == pytest.approx(0.45)
    assert routes[("math", True)][1] == pytest.approx(0.05)
    assert routes[("math", True)][0] == _cheapest_remote("math", 0.8)  # hard: floor 0.8


def test_hard_share_only_applies_to_the_objectives_hard_categories() -> None:
    routes = _routes(["gemma-3-270m"], {"chit_chat": 1.0}, hard=0.5)
    assert set(routes) == {("chit_chat", False)}


def test_policy_denials_remove_candidates() -> None:
    routes = _routes([], {"chit_chat": 1.0}, deny=["openai/gpt-4o-mini"])
    assert routes[("chit_chat", False)][0] != "openai/gpt-4o-mini"


def test_cheapest_objective_ignores_quality() -> None:
    routes = _routes(["gemma-3-270m"], {"math": 1.0}, objective="cheapest")
    assert routes[("math", False)][0] == "gemma-3-270m"
