"""The value objective (predicted quality - cost weight x cost), session affinity and frontier budgets
in the routing service, with scripted features and per-model quality."""

from __future__ import annotations

from typing import Any

import pytest

from router.routing.hints import RoutingHints, hints_from_headers
from serving.errors import InvalidRequest
from tests.unit.test_routing_decision import ALL, GEMMA, GPT41, MINI, PRO, SONNET, Scene, candidate

VALUE_CONFIG = """
default_objective: value
objectives:
  value: {type: value, cost_weight: 20, min_quality: 0.35, ttft_target_s: 2.0}
spillover: {return_ratio: 0.7, min_dwell_s: 5}
latency: {local_base_ttft_s: 0.5, local_per_request_s: 0.25, remote_base_ttft_s: 1.0}
"""

HARD = {GEMMA: 0.05, MINI: 0.45, GPT41: 0.85, SONNET: 0.9, PRO: 0.88}
EASY = {GEMMA: 0.95, MINI: 0.95, GPT41: 0.97, SONNET: 0.97, PRO: 0.97}


def _scene(quality: dict[str, float], **kw: Any) -> Scene:
    scene = Scene(config=VALUE_CONFIG, **kw)
    scene.service._quality.scores = dict(quality)  # type: ignore[attr-defined]  # TableQuality
    return scene


CONVERSATION = [{"role": "user", "content": "Plan a migration of our billing system."},
                {"role": "assistant", "content": "Here is a plan..."},
                {"role": "user", "content": "Now the rollback steps."}]


async def test_a_hard_prompt_goes_to_the_best_value_frontier_model() -> None:
    decision = await _scene(HARD).decide()

    assert decision.chosen.id in {GPT41, SONNET, PRO}
    assert decision.reason == "best-value"
    gemma = candidate(decision, GEMMA)
    assert not gemma["eligible"] and gemma["note"].startswith("predicted quality 0.05 < minimum")
    chosen = candidate(decision, decision.chosen.id)
    assert chosen["utility"] == pytest.approx(chosen["quality"] - 20 * chosen["est_cost"], abs=1e-5)
    assert decision.to_json()["cost_weight"] == 20


async def test_a_trivial_prompt_stays_local() -> None:
    decision = await _scene(EASY).decide()

    assert (decision.chosen.id, decision.reason) == (GEMMA, "best-value")


async def test_the_cost_weight_header_trades_quality_for_cost() -> None:
    scene = _scene(HARD)
    frugal = await scene.decide(hints=RoutingHints(cost_weight=1e6))
    lavish = await scene.decide(hints=RoutingHints(cost_weight=0.0))

    assert frugal.chosen.id == MINI      # the cheapest model above the minimum quality
    assert lavish.chosen.id == SONNET    # the best predicted quality, whatever it costs


async def test_an_overloaded_local_model_spills_under_the_value_objective() -> None:
    scene = _scene(EASY)
    scene.queue(running=8)

    decision = await scene.decide()

    assert decision.chosen.id != GEMMA and decision.reason == "spillover"


async def test_a_session_stays_on_its_first_model_until_policy_moves_it() -> None:
    scene = _scene(HARD)
    first = await scene.decide(messages=CONVERSATION[:1])
    assert first.chosen.id in {GPT41, SONNET, PRO}
    scene.service._quality.scores = dict(EASY)  # type: ignore[attr-defined]

    later = await scene.decide(messages=CONVERSATION)

    assert (later.chosen.id, later.reason) == (first.chosen.id, "session")
    assert later.session == first.session is not None

    scene.entries = [e for e in scene.entries if e.id != first.chosen.id]  # e.g. banned
    moved = await scene.decide(messages=CONVERSATION)
    assert moved.chosen.id == GEMMA and moved.reason == "best-value"


async def test_a_new_conversation_with_the_same_opening_is_not_bound() -> None:
    scene = _scene(HARD)
    await scene.decide(messages=CONVERSATION[:1])
    scene.service._quality.scores = dict(EASY)  # type: ignore[attr-defined]

    fresh = await scene.decide(messages=CONVERSATION[:1])

    assert fresh.chosen.id == GEMMA  # only continuations (or an explicit session header) look up


async def test_an_explicit_session_header_binds_and_a_dry_run_does_not() -> None:
    scene = _scene(HARD)
    hints = RoutingHints(session="conv-42")
    await scene.decide(dry_run=True, hints=hints)
    scene.service._quality.scores = dict(EASY)  # type: ignore[attr-defined]
    assert (await scene.decide(hints=hints)).chosen.id == GEMMA  # nothing was bound by the dry run

    scene.service._quality.scores = dict(HARD)  # type: ignore[attr-defined]
    assert (await scene.decide(hints=RoutingHints(session="conv-7"))).chosen.id != GEMMA
    scene.service._quality.scores = dict(EASY)  # type: ignore[attr-defined]
    again = await scene.decide(hints=RoutingHints(session="conv-7"))
    assert again.reason == "session" and again.chosen.id != GEMMA


async def test_a_frontier_share_header_caps_frontier_use() -> None:
    scene = _scene(HARD)
    hints = RoutingHints(frontier_share=0.25)
    chosen = [(await scene.decide(hints=hints)).chosen.id for _ in range(200)]

    frontier = sum(c in {GPT41, SONNET, PRO} for c in chosen)
    assert 40 <= frontier <= 60, frontier
    assert set(chosen) - {GPT41, SONNET, PRO} == {MINI}  # refused ones go to the best non-frontier
    status = scene.service.budget_status()
    assert status[0]["scope"] == "header:default:0.25"


async def test_a_refused_frontier_choice_says_why() -> None:
    scene = _scene(HARD)
    hints = RoutingHints(frontier_share=0.0)
    decisions = [await scene.decide(hints=hints) for _ in range(20)]

    last = decisions[-1]
    assert (last.chosen.id, last.reason) == (MINI, "frontier-budget")
    assert "threshold" in last.explanation and last.to_json()["budget"]


async def test_without_any_non_frontier_candidate_the_budget_cannot_refuse() -> None:
    scene = _scene(HARD, models=[GPT41, SONNET])
    decisions = [await scene.decide(hints=RoutingHints(frontier_share=0.0)) for _ in range(20)]
    assert {d.chosen.id for d in decisions} <= {GPT41, SONNET}


def test_hints_read_headers_and_refuse_bad_values() -> None:
    hints = hints_from_headers({"x-stellwerk-cost-weight": "5", "x-stellwerk-frontier-share": "0.1",
                                "x-stellwerk-session": "abc"}, tenant="acme", default_objective="value")
    assert (hints.cost_weight, hints.frontier_share) == (5.0, 0.1)
    assert (hints.session, hints.objective) == ("abc", "value")
    for header, value in [("x-stellwerk-frontier-share", "1.5"), ("x-stellwerk-cost-weight", "-1"),
                          ("x-stellwerk-cost-weight", "nan"), ("x-stellwerk-frontier-share", "ten")]:
        with pytest.raises(InvalidRequest) as info:
            hints_from_headers({header: value}, tenant="acme")
        assert info.value.param == header


def test_every_scene_model_is_priced_as_the_tests_assume() -> None:
    scene = _scene(HARD, models=ALL)
    cfg = scene.holder.current
    frontier = {e.id for e in scene.entries if cfg.is_frontier(e)}
    assert frontier == {GPT41, SONNET, PRO}


async def test_a_pool_with_no_ready_replica_is_skipped_and_woken() -> None:
    from cluster.telemetry import TelemetrySnapshot

    scene = _scene(EASY)
    woken: list[str] = []
    scene.service._wake = lambda entry: woken.append(entry.id)  # what build.py wires to the engine
    scene.snapshot = TelemetrySnapshot(1.0, {GEMMA: None}, {GEMMA: "no ready replica (scaled to zero)"})

    decision = await scene.decide()

    assert decision.chosen.id != GEMMA  # answered remotely at once
    assert woken == [GEMMA]             # and the pool is asked to scale up for the next requests
    scene.snapshot = TelemetrySnapshot(2.0)
    assert (await scene.decide()).chosen.id == GEMMA  # back once the replica is ready


async def test_local_only_names_the_capability_no_local_model_has() -> None:
    from serving.errors import InvalidRequest as BadRequest

    config = VALUE_CONFIG.replace("objectives:\n", "objectives:\n  local-only: {type: local-only}\n")
    scene = Scene(config=config)
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    with pytest.raises(BadRequest, match="no local model can serve this request: does not support images"):
        await scene.decide("local-only", messages=[{"role": "user", "content": [image]}])


def test_a_frontier_share_header_is_kept_to_whole_percent() -> None:
    """Each distinct value is a budget the router keeps: a client cannot make unboundedly many."""
    values = {hints_from_headers({"x-stellwerk-frontier-share": f"0.1{'1' * n}"}, tenant="t").frontier_share
              for n in range(1, 30)}
    assert values == {0.11}
