"""The overhead report: numbers in the Markdown come from the JSON document, targets are judged from it,
the plot is written; the py-spy summary and /proc parsing on scripted input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.overhead.cpu import descendants, parse_stat
from benchmarks.overhead.hotspots import component_of, parse_collapsed
from benchmarks.overhead.report import build_document, render_markdown, render_plot
from benchmarks.overhead.stats import StepSummary, SustainCriteria
from benchmarks.overhead.sweep import StepRecord


def _record(target: str, mode: str, rate: float, p50: float, p99: float, achieved: float) -> StepRecord:
    s = StepSummary(target=target, mode=mode, offered_rate=rate, measured=100, ok=100, errors=0, dropped=0,
                    achieved_rate=achieved, p50_ms=p50, p90_ms=p99, p99_ms=p99, max_ms=p99, ttfb_p50_ms=p50,
                    ttfb_p99_ms=p99, lag_p99_ms=0.3, lag_max_ms=0.9)
    return StepRecord(s, {target: 1.25, "loadgen": 0.2, "fake": 0.1})


def _doc() -> dict[str, Any]:
    records = []
    for mode in ("non-streaming", "streaming"):
        records += [_record("direct", mode, 100, 0.5, 1.0, 100),
                    _record("stellwerk", mode, 100, 2.5, 4.0, 100),
                    _record("litellm", mode, 100, 6.5, 12.0, 100),
                    _record("direct", mode, 500, 0.6, 1.5, 500),
                    _record("stellwerk", mode, 500, 3.1, 6.25, 499),
                    _record("litellm", mode, 500, 300, 900, 200)]
    machine = {"cpu_model": "Test CPU", "cpus": 2, "memory_gib": 24, "python": "3.11", "placement": "x",
               "loadavg_before": "1", "loadavg_after": "2", "litellm_version": "9.9"}
    config = {"modes": ["non-streaming", "streaming"], "duration_s": 5, "warmup_s": 1}
    return build_document(records, SustainCriteria(), machine=machine, config=config, profiles=[])


def test_added_latency_targets_and_sustained_rates_in_the_document() -> None:
    doc = _doc()
    added = {(a["target"], a["mode"], a["rate"]): a for a in doc["added"]}
    assert added[("stellwerk", "non-streaming", 500)]["p99_ms"] == 4.75
    assert added[("litellm", "non-streaming", 100)]["p50_ms"] == 6.0
    assert doc["max_sustained"] == {m: {"direct": 500, "stellwerk": 500, "litellm": 100}
                                    for m in ("non-streaming", "streaming")}
    # Added p99 of 3 ms at 100/s (over 2 ms), 500/s sustained, not 20x LiteLLM's 100, 1.25 ms of CPU.
    assert doc["targets"] == {"added_p99_at_most_2ms_up_to_300": False, "sustains_500_non_streaming": True,
                              "sustains_300_streams": True, "at_least_20x_peer": False,
                              "cpu_at_most_1ms_per_request": False}


def test_markdown_shows_the_documents_numbers(tmp_path: Path) -> None:
    doc = _doc()
    text = render_markdown(doc, "plot.png")
    assert "| 500 | 0.60 / 1.50 | 2.50 / 4.75 | 499 | 1.25 | 299.40 / 898.50 | 200 ✗ | 1.25 |" in text
    assert "| non-streaming | 500 | 500 | 100 |" in text
    assert "sustains_500_non_streaming: **met**" in text
    assert "at_least_20x_peer: **not met**" in text
    assert "Test CPU" in text and "![added latency vs rate](plot.png)" in text
    render_plot(doc, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 10_000


def test_collapsed_stacks_are_summed_by_function_and_component() -> None:
    lines = [
        "run (uvicorn/main.py:5);handle (/venv/lib/python3.11/site-packages/fastapi/routing.py:20);"
        "dumps (/usr/lib/python3.11/json/__init__.py:231) 30",
        "run (uvicorn/main.py:5);handle (/venv/lib/python3.11/site-packages/fastapi/routing.py:20) 10",
        "run (uvicorn/main.py:5);send (/venv/lib/python3.11/site-packages/httpx/_client.py:1) 60",
        "garbage line",
    ]
    profile = parse_collapsed(lines)
    assert profile.total == 100
    assert dict(profile.top(profile.components)) == {"httpx": 60.0, "json": 30.0, "fastapi": 10.0}
    assert profile.top(profile.self_samples, 1) == [("send (httpx/_client.py)", 60.0)]
    assert dict(profile.top(profile.inclusive))["handle (fastapi/routing.py)"] == 40.0
    assert component_of("chat (/work/main/serving/remote/base.py:10)") == "serving"


def test_proc_stat_parsing_and_process_trees() -> None:
    stat = "42 (python (x) y) S 7 42 42 0 -1 4194560 1 0 0 0 250 150 0 0 20 0 3 0 100 0 0"
    ppid, seconds = parse_stat(stat)
    assert ppid == 7
    assert seconds > 0  # (250 + 150) clock ticks
    parents = {1: 0, 2: 1, 3: 2, 4: 1, 5: 9}
    assert descendants(1, parents) == {1, 2, 3, 4}
    assert descendants(5, parents) == {5}
