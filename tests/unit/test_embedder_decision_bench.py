"""The decision benchmark's driver and report, on a short run with the real service and extractor."""

from __future__ import annotations

import pytest

from benchmarks.decision.agreement import decision_agreement
from benchmarks.decision.driver import run_phase
from benchmarks.decision.machine import describe_machine
from benchmarks.decision.report import markdown
from router.features.extract import FeatureExtractor
from router.schemas import ChatCompletionRequest

PROMPTS = ["hi there", "Prove that there are infinitely many primes.",
           "Write a Python function that reverses a linked list."]


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor.load()


def _requests() -> list[ChatCompletionRequest]:
    bodies = [{"model": "auto", "messages": [{"role": "user", "content": p}]} for p in PROMPTS]
    return [ChatCompletionRequest.model_validate(b) for b in bodies]


async def test_a_short_open_loop_phase_counts_every_arrival(extractor: FeatureExtractor) -> None:
    phase = await run_phase("onnx", extractor, _requests(), rate=40, duration_s=0.5, warmup=2)
    data = phase.to_json()

    assert data["decisions"] == len(phase.latencies_s) == len(phase.extract_cpu_s) > 0
    assert sum(data["chosen"].values()) == data["decisions"]
    assert data["latency_ms"]["p50"] <= data["latency_ms"]["p99"] <= data["latency_ms"]["max"]
    assert data["cpu"]["own_cpu_s"] > 0

    report = markdown({"started_at": "t", "machine": describe_machine(), "rate_per_s": 40, "duration_s": 0.5,
                       "prompts": len(PROMPTS), "phases": [data]})
    assert "| onnx |" in report and "Shared machine" in report


async def test_one_extractor_agrees_with_itself(extractor: FeatureExtractor) -> None:
    assert await decision_agreement(extractor, extractor, _requests()) == {"decisions": 3, "same_model": 1.0}
