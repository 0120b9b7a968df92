"""Predicted vs measured: error percentages against a scripted bench results document."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.planner.profiles import PerformanceProfile
from benchmarks.planner.validate import compare, validation_markdown


def _profile() -> PerformanceProfile:
    return PerformanceProfile.model_validate({
        "model": "m", "hardware": "hw", "provenance": "measured", "source": "t", "as_of": "2026-01-01",
        "workload": {"input_tokens": 64, "output_tokens": 32}, "input_token_weight": 0.0,
        "points": [{"concurrency": 1, "output_tokens_per_s": 10, "ttft_ms": {"p50": 100},
                    "tpot_ms": {"p50": 50}},
                   {"concurrency": 5, "output_tokens_per_s": 30, "ttft_ms": {"p50": 500},
                    "tpot_ms": {"p50": 90}}]})


def _measured(c: float, tok_s: float, out_tokens: float = 32) -> dict[str, Any]:
    return {"mode": "concurrency", "value": c, "summary": {
        "completed": 5, "output_throughput": tok_s, "request_throughput": tok_s / out_tokens,
        "mean_input_tokens": 64, "mean_output_tokens": out_tokens, "ttft_ms": {"p50": 240.0},
        "tpot_ms": {"p50": 70.0}}}


def test_errors_in_percent() -> None:
    result = compare(_profile(), {"steps": [_measured(3, 25.0)]})
    (row,) = result["rows"]
    assert row["predicted"]["output_tokens_per_s"] == pytest.approx(20)
    assert row["error_pct"]["output_tokens_per_s"] == pytest.approx(-20)
    assert row["error_pct"]["ttft_p50_ms"] == pytest.approx(100 * (300 - 240) / 240)
    assert row["error_pct"]["tpot_p50_ms"] == pytest.approx(0)
    assert result["mean_abs_error_pct"]["output_tokens_per_s"] == pytest.approx(20)
    assert "-20.0 %" in validation_markdown(result, "run.json")


def test_other_lengths_are_converted_by_the_work_model() -> None:
    # No prompt cost: half the output tokens per request = twice the requests, same tokens/s.
    row = compare(_profile(), {"steps": [_measured(5, 30.0, out_tokens=16)]})["rows"][0]
    assert row["predicted"]["output_tokens_per_s"] == pytest.approx(30)
    assert row["predicted"]["requests_per_s"] == pytest.approx(30 / 16)


def test_rate_steps_and_empty_steps_are_skipped() -> None:
    steps = [dict(_measured(3, 25.0), mode="poisson"), dict(_measured(3, 25.0), summary={"completed": 0})]
    assert compare(_profile(), {"steps": steps})["rows"] == []


def test_only_the_asked_concurrencies_are_compared() -> None:
    steps = [_measured(1, 10.0), _measured(3, 25.0)]
    assert [r["concurrency"] for r in compare(_profile(), {"steps": steps}, [3])["rows"]] == [3.0]
