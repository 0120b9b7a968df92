"""The routing decision with scripted telemetry, features and quality: spillover at the threshold,
hysteresis, quality floors, capability/policy/health filtering, objectives."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from cluster.gpu import GpuReading
from cluster.telemetry import TelemetrySnapshot
from models.catalogue import ModelEntry, load_catalogue
from router.errors import NotAllowed
from router.hot_reload import ConfigHolder
from router.metrics import RouterMetrics
from router.routing.config import RoutingConfig, RoutingConfigError, parse_routing_config
from router.routing.decision import Decision
from router.routing.health import HealthTracker
from router.routing.hints import RoutingHints
from router.routing.service import RoutingService
from router.routing.spillover import SpilloverState
from router.schemas import ChatCompletionRequest
from serving.engine import EngineStats
from serving.errors import ContextLengthExceeded, EngineUnavailable, InvalidRequest
from tests.fakes import DEFAULT_QUALITY, ScriptedFeatures, TableQuality

GEMMA, MINI, GPT41 = "gemma-3-270m", "openai/gpt-4o-mini", "openai/gpt-4.1"
SONNET, HAIKU = "anthropic/claude-sonnet-4", "anthropic/claude-3.5-haiku"
FLASH, PRO = "gemini/gemini-2.5-flash", "gemini/gemini-2.5-pro"
LLAMA = "llama-3.1-8b-instruct"
ALL = [GEMMA, MINI, GPT41, SONNET, HAIKU, FLASH, PRO]

CONFIG = """
default_objective: balanced
objectives:
  balanced: {type: cheapest, quality_floor: 0.5, hard_quality_floor: 0.85, hard_threshold: 0.5,
             hard_categories: null, ttft_target_s: 2.0}
  quality: {type: best-quality, budget_per_request: 0.002}
  local-only: {type: local-only}
spillover: {return_ratio: 0.7, min_dwell_s: 5}
latency: {local_base_ttft_s: 0.5, local_per_request_s: 0.25, remote_base_ttft_s: 1.0}
fallback: {max_attempts: 3, failure_threshold: 2, cooldown_s: 30}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Scene:
    """A routing service over chosen catalogue models, with telemetry and features set by the test."""

    def __init__(self, models: Iterable[str] = ALL, *, config: str = CONFIG, category: str = "chit_chat",
                 p_weak_ok: float | None = None) -> None:
        catalogue = load_catalogue()
        self.entries: list[ModelEntry] = [catalogue.get(m) for m in models]
        self.features = ScriptedFeatures(category, p_weak_ok)
        self.snapshot = TelemetrySnapshot()
        self.metrics = RouterMetrics()
        self.holder = ConfigHolder.fixed(parse_routing_config(config, Path("test.yaml")), Path("test.yaml"))
        self.clock = Clock()
        cfg = self.holder.current
        self.service = RoutingService(
            self.holder, self.features, TableQuality(DEFAULT_QUALITY), lambda: self.entries,
            lambda: self.snapshot, self.metrics, clock=self.clock,
            health=HealthTracker(cfg.fallback.failure_threshold, cfg.fallback.cooldown_s, clock=self.clock),
            spillover=SpilloverState(cfg.spillover, clock=self.clock))

    def queue(self, running: int, waiting: int = 0, model: str = GEMMA) -> None:
        self.snapshot = TelemetrySnapshot(1.0, {model: EngineStats(running, waiting, 1)})

    async def decide(self, objective: str | None = None, *, dry_run: bool = False,
                     hints: RoutingHints | None = None, **body: Any) -> Decision:
        request = ChatCompletionRequest.model_validate(
            {"model": "auto", "messages": [{"role": "user", "content": "hello there"}], **body})
        return await self.service.decide(request, objective, request_id="t", dry_run=dry_run, hints=hints)


def candidate(decision: Decision, model: str) -> dict[str, Any]:
    return next(c for c in decision.to_json()["candidates"] if c["model"] == model)


# --- quality and cost -----------------------------------------------------------------------------


async def test_an_idle_local_model_that_is_good_enough_wins_on_cost() -> None:
    decision = await Scene().decide()

    assert (decision.chosen.id, decision.reason) == (GEMMA, "cheapest")
    assert decision.quality_floor == 0.5
    assert decision.order[1].id == MINI  # the next cheapest that qualifies


async def test_a_category_the_local_model_is_weak_at_goes_to_the_cheapest_good_remote() -> None:
    decision = await Scene(category="math").decide()

    assert (decision.chosen.id, decision.reason) == (MINI, "quality-floor")
    assert "quality 0.00 < floor 0.50" in candidate(decision, GEMMA)["note"]
    assert GEMMA in decision.explanation


async def test_a_hard_prompt_raises_the_floor_to_the_frontier() -> None:
    decision = await Scene(category="chit_chat", p_weak_ok=0.2).decide()

    assert decision.quality_floor == 0.85
    assert decision.reason == "hard-prompt"
    # gpt-4.1 (0.9), sonnet (0.92) and gemini pro (0.93) qualify; gpt-4.1 is the cheapest of them
    # for 256 expected output tokens ($8 vs $10 and $15 per million).
    assert decision.chosen.id == GPT41
    assert not candidate(decision, MINI)["eligible"]


async def test_the_estimator_counts_only_in_the_categories_it_is_trusted_for() -> None:
    config = CONFIG.replace("hard_categories: null", "hard_categories: [math]")
    decision = await Scene(config=config, category="chit_chat", p_weak_ok=0.2).decide()
    assert (decision.chosen.id, decision.quality_floor) == (GEMMA, 0.5)


def test_unknown_hard_categories_are_a_config_error() -> None:
    with pytest.raises(RoutingConfigError, match=r"line 4: objectives.balanced: .*unknown hard_categories"):
        parse_routing_config(CONFIG.replace("hard_categories: null", "hard_categories: [maths]"),
                             Path("r.yaml"))


async def test_an_easy_prompt_keeps_the_normal_floor() -> None:
    decision = await Scene(category="chit_chat", p_weak_ok=0.9).decide()
    assert (decision.chosen.id, decision.quality_floor) == (GEMMA, 0.5)


async def test_no_candidate_meeting_the_floor_is_best_effort_with_the_best_quality() -> None:
    config = CONFIG.replace("quality_floor: 0.5", "quality_floor: 0.99").replace("0.85", "0.99")
    decision = await Scene(config=config).decide()

    assert decision.reason == "best-effort"
    assert decision.chosen.id == PRO  # the highest quality


async def test_best_quality_within_budget() -> None:
    decision = await Scene().decide("quality", max_tokens=100)

    # 100 output tokens: gemini pro costs ~0.001 (within 0.002), sonnet ~0.0015, gpt-4.1 ~0.0008.
    assert (decision.chosen.id, decision.reason) == (PRO, "best-quality")
    # 1000 output tokens: only gpt-4o-mini (0.0006) and gemma (free) stay within 0.002.
    tight = await Scene().decide("quality", max_tokens=1000)
    assert tight.chosen.id == MINI
    assert "> budget 0.002" in candidate(tight, PRO)["note"]


# --- spillover and hysteresis ---------------------------------------------------------------------


async def test_spillover_starts_exactly_when_the_predicted_ttft_passes_the_target() -> None:
    scene = Scene()
    scene.queue(running=6)  # 0.5 + 6 * 0.25 = 2.0: not above the 2.0 s target
    assert (await scene.decide()).chosen.id == GEMMA

    scene.queue(running=5, waiting=2)  # 7 queued: 2.25 s
    decision = await scene.decide()

    assert (decision.chosen.id, decision.reason) == (MINI, "spillover")
    assert "predicted TTFT 2.25 s > target 2 s" in candidate(decision, GEMMA)["note"]
    assert candidate(decision, GEMMA)["queued"] == 7
    assert GEMMA in [e.id for e in decision.order[1:]]  # still a fallback, after the eligible ones


async def test_hysteresis_returns_only_below_the_lower_threshold_after_the_dwell_time() -> None:
    scene = Scene()
    scene.queue(8)
    assert (await scene.decide()).reason == "spillover"

    scene.queue(5)  # 1.75 s: under the target, above 2.0 * 0.7 = 1.4 s → stays spilled
    assert (await scene.decide()).reason == "spillover"
    scene.queue(3)  # 1.25 s: low enough, but the spill is younger than min_dwell_s (5 s)
    assert (await scene.decide()).reason == "spillover"

    scene.clock.now += 5
    decision = await scene.decide()
    assert (decision.chosen.id, decision.reason) == (GEMMA, "cheapest")


async def test_the_routers_own_in_flight_count_counts_before_telemetry_catches_up() -> None:
    scene = Scene()
    gemma = scene.entries[0]
    dispatches = [scene.service.dispatch(gemma) for _ in range(7)]

    assert (await scene.decide()).reason == "spillover"
    for d in dispatches:
        d.close()
    assert scene.service.load.in_flight(GEMMA) == 0


async def test_a_dry_run_does_not_change_the_spillover_state() -> None:
    scene = Scene()
    scene.queue(9)
    assert (await scene.decide(dry_run=True)).reason == "spillover"
    assert scene.service.spillover.spilling() == []

    await scene.decide()
    assert scene.service.spillover.spilling() == [(GEMMA, "balanced")]


def gpu(index: int, busy: float) -> GpuReading:
    return GpuReading(index, "NVIDIA H100", busy, 70 * 2**30, 80 * 2**30, 400.0, 60.0)


async def test_saturated_gpus_with_a_waiting_queue_spill_a_local_gpu_model() -> None:
    scene = Scene([LLAMA, MINI, GPT41], category="chit_chat")
    scene.snapshot = TelemetrySnapshot(1.0, {LLAMA: EngineStats(2, 1, 1)}, {}, (gpu(0, 99), gpu(1, 97)))
    decision = await scene.decide()

    assert (decision.chosen.id, decision.reason) == (MINI, "spillover")
    assert candidate(decision, LLAMA)["note"].startswith("GPUs 97%+ busy and 1 waiting")

    # One GPU with headroom, or nothing waiting: the queue-based prediction decides again.
    scene.clock.now += 10
    scene.snapshot = TelemetrySnapshot(1.0, {LLAMA: EngineStats(2, 0, 1)}, {}, (gpu(0, 99), gpu(1, 97)))
    assert (await scene.decide()).chosen.id == LLAMA


async def test_without_nvml_gpus_are_not_consulted() -> None:
    scene = Scene([LLAMA, MINI], category="chit_chat")
    scene.snapshot = TelemetrySnapshot(1.0, {LLAMA: EngineStats(2, 3, 1)}, {}, ())
    assert (await scene.decide()).chosen.id == LLAMA


async def test_local_only_queues_instead_of_spilling() -> None:
    scene = Scene()
    scene.queue(30)
    decision = await scene.decide("local-only")

    assert (decision.chosen.id, decision.reason) == (GEMMA, "local-only")
    assert candidate(decision, MINI)["note"] == "objective: not local"


async def test_local_only_without_a_local_model_is_503() -> None:
    with pytest.raises(EngineUnavailable, match="needs a local model"):
        await Scene([MINI, GPT41]).decide("local-only")


async def test_measured_ttfts_move_the_prediction() -> None:
    scene = Scene()
    latency = scene.service.latency
    for _ in range(30):
        latency.observe(GEMMA, 0.2, 0, local=True)
        latency.observe(GEMMA, 0.2 + 4 * 1.0, 4, local=True)

    assert latency.predict(GEMMA, 0, local=True) == pytest.approx(0.2, abs=0.01)
    assert latency.predict(GEMMA, 2, local=True) == pytest.approx(2.2, abs=0.05)
    scene.queue(2)  # 2.2 s now predicted: spills although the prior said 1.0 s
    assert (await scene.decide()).reason == "spillover"


def test_long_prompts_teach_the_prefill_cost_not_the_idle_ttft() -> None:
    latency = Scene().service.latency
    for _ in range(200):  # 0.2 s + 1 ms per prompt token, on an idle engine
        latency.observe(GEMMA, 0.2 + 0.001 * 20, 0, local=True, prompt_tokens=20)
        latency.observe(GEMMA, 0.2 + 0.001 * 3000, 0, local=True, prompt_tokens=3000)

    assert latency.predict(GEMMA, 0, local=True, prompt_tokens=20) == pytest.approx(0.22, abs=0.03)
    assert latency.predict(GEMMA, 0, local=True, prompt_tokens=3000) == pytest.approx(3.2, abs=0.1)
    estimate = latency.estimate(GEMMA, local=True)
    assert estimate.base_s == pytest.approx(0.2, abs=0.03)
    assert estimate.per_prompt_token_s == pytest.approx(0.001, rel=0.05)


async def test_long_prompts_on_an_idle_model_do_not_make_it_spill() -> None:
    """Before the prompt term, these TTFTs moved `base` to 5.2 s: every request after them spilled."""
    scene = Scene()
    for _ in range(100):
        scene.service.latency.observe(GEMMA, 5.2, 0, local=True, prompt_tokens=5000)

    assert scene.service.latency.predict(GEMMA, 0, local=True) < 1.0
    assert (await scene.decide()).reason == "cheapest"
    scene.queue(8)  # load still spills: 8 queued x 0.25 s on top
    assert (await scene.decide()).reason == "spillover"


async def test_a_dispatch_teaches_the_ttft_of_its_prompts_length() -> None:
    scene = Scene()
    entry = scene.entries[0]
    dispatch = scene.service.dispatch(entry, prompt_tokens=4000)
    scene.clock.now += 4.5
    dispatch.first_token()
    dispatch.close()

    estimate = scene.service.latency.estimate(GEMMA, local=True)
    assert estimate.per_prompt_token_s > 0
    assert estimate.base_s < 0.5 + 0.2 * 4.0 / 2  # most of the 4 s went to the prefill


# --- filters before scoring ------------------------------------------------------------------------


async def test_tools_rule_out_models_without_tool_support() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    decision = await Scene().decide(tools=tools)

    assert decision.chosen.id == MINI
    assert candidate(decision, GEMMA)["note"] == "capability: does not support tools"


async def test_tools_nobody_supports_are_a_400() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    with pytest.raises(InvalidRequest, match="does not support tools"):
        await Scene([GEMMA]).decide(tools=tools)


async def test_a_prompt_longer_than_every_context_is_context_length_exceeded() -> None:
    with pytest.raises(ContextLengthExceeded):
        await Scene([GEMMA]).decide(messages=[{"role": "user", "content": "word " * 4000}])


async def test_a_long_prompt_skips_the_short_context_model() -> None:
    decision = await Scene().decide(messages=[{"role": "user", "content": "word " * 4000}])
    assert decision.chosen.id == MINI
    assert candidate(decision, GEMMA)["note"].startswith("context: needs about")


async def test_policy_filters_before_scoring() -> None:
    config = CONFIG + "policy: {deny_providers: [openai], deny_models: [gemini/gemini-2.5-flash]}\n"
    decision = await Scene(config=config, category="math").decide()

    denied = {c["model"]: c for c in decision.to_json()["candidates"] if c["note"].startswith("policy:")}
    assert set(denied) == {MINI, GPT41, FLASH}
    assert all(c["quality"] is None and c["predicted_ttft_s"] is None for c in denied.values())
    assert decision.chosen.id == HAIKU
    assert not {MINI, GPT41, FLASH} & {e.id for e in decision.order}


async def test_jurisdiction_policy_keeps_prompts_on_premises() -> None:
    config = CONFIG + "policy: {allow_leaving_premises: false}\n"
    decision = await Scene(config=config, category="math").decide()

    assert [e.id for e in decision.order] == [GEMMA]
    assert decision.reason == "best-effort"


async def test_a_request_policy_adds_to_the_global_one() -> None:
    class NoAnthropic:
        def reject_reason(self, entry: ModelEntry) -> str | None:
            return "tenant denies anthropic" if entry.provider == "anthropic" else None

    scene = Scene(category="math", p_weak_ok=0.1)
    request = ChatCompletionRequest.model_validate({"model": "auto", "messages": [{"role": "user",
                                                                                    "content": "x"}]})
    decision = await scene.service.decide(request, None, request_id="t", policies=[NoAnthropic()])
    assert SONNET not in {e.id for e in decision.order}
    assert candidate(decision, SONNET)["note"] == "policy: tenant denies anthropic"


async def test_everything_denied_is_403() -> None:
    config = CONFIG + "policy: {allowed_jurisdictions: [EU]}\n"
    with pytest.raises(NotAllowed, match="jurisdiction"):
        await Scene([GEMMA, MINI], config=config).decide()


async def test_an_unhealthy_model_is_skipped_until_its_cooldown_ends() -> None:
    scene = Scene()
    gemma = scene.entries[0]
    for _ in range(2):
        scene.service.failed(gemma, EngineUnavailable("down"))

    decision = await scene.decide()
    assert decision.chosen.id == MINI
    assert candidate(decision, GEMMA)["note"].startswith("health: 2 failures in a row (engine_unavailable)")

    scene.clock.now += 31  # half-open: one request may try it again
    assert (await scene.decide()).chosen.id == GEMMA
    scene.service.succeeded(gemma)
    assert scene.service.health.unhealthy_reason(GEMMA) is None


async def test_a_local_engine_whose_stats_cannot_be_read_is_skipped() -> None:
    scene = Scene()
    scene.snapshot = TelemetrySnapshot(1.0, {GEMMA: None}, {GEMMA: "deployment is DEPLOYING"})

    decision = await scene.decide()
    assert decision.chosen.id == MINI
    assert "DEPLOYING" in candidate(decision, GEMMA)["note"]


async def test_nothing_healthy_is_503() -> None:
    scene = Scene([GEMMA])
    scene.snapshot = TelemetrySnapshot(1.0, {GEMMA: None}, {GEMMA: "replica died"})
    with pytest.raises(EngineUnavailable, match="unhealthy"):
        await scene.decide()


async def test_an_unknown_objective_is_a_400_naming_the_choices() -> None:
    with pytest.raises(InvalidRequest, match="balanced, local-only, quality"):
        await Scene().decide("fastest")


# --- explanation --------------------------------------------------------------------------------------


async def test_the_decision_json_explains_every_candidate_without_the_prompt() -> None:
    decision = await Scene(category="math").decide(
        messages=[{"role": "user", "content": "my secret is hunter2"}])
    body = decision.to_json()

    assert body["model"] == MINI
    assert {c["model"] for c in body["candidates"]} == set(ALL)
    assert body["features"]["category"] == "math"
    assert "hunter2" not in str(body)


def test_default_config_is_valid_and_names_its_objectives() -> None:
    from router.routing.config import load_routing_config

    config: RoutingConfig = load_routing_config()
    assert {"balanced", "cheapest", "quality", "local-only"} <= set(config.objectives)
