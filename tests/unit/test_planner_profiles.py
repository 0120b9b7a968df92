"""Performance profiles: shipped data, validation errors, and profiles built from bench results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.cost.yaml_file import DataFileError
from benchmarks.planner.from_bench import profile_from_bench, read_bench_results
from benchmarks.planner.profiles import DEFAULT_PROFILES_DIR, load_profile, load_profiles

_PROFILE = """\
model: m
hardware: h100-80gb
provenance: published
source: https://example.org
as_of: 2026-01-01
workload: {input_tokens: 100, output_tokens: 100}
points:
  - {concurrency: 4, output_tokens_per_s: 40, ttft_ms: {p50: 10}, tpot_ms: {p50: 5}}
  - {concurrency: 1, output_tokens_per_s: 10, ttft_ms: {p50: 10}, tpot_ms: {p50: 5}}
"""


def test_shipped_profiles_load_and_say_where_they_come_from() -> None:
    profiles = load_profiles([DEFAULT_PROFILES_DIR])
    assert profiles["gemma-3-270m"].provenance == "measured"
    published = profiles["llama-3.1-8b-instruct"]
    assert published.provenance == "published" and "https://" in published.source
    assert "(published)" in published.label


def test_points_must_be_sorted(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(_PROFILE)
    with pytest.raises(DataFileError, match="strictly increasing concurrency"):
        load_profile(path)


def test_provenance_is_required_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(_PROFILE.replace("provenance: published", "provenance: guessed"))
    with pytest.raises(DataFileError, match=r"line 3: provenance"):
        load_profile(path)


def test_two_profiles_for_one_model_are_refused(tmp_path: Path) -> None:
    good = _PROFILE.replace("concurrency: 4", "concurrency: 0.5")
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(good)
    assert load_profile(tmp_path / "a.yaml").model == "m"
    with pytest.raises(DataFileError, match="a second profile"):
        load_profiles([tmp_path])


def _step(mode: str, value: float, *, tok_s: float, rps: float, e2e_mean: float) -> dict[str, Any]:
    dist = {"count": 3, "mean": e2e_mean, "p50": 100.0, "p90": 190.0, "p99": 280.0}
    return {"mode": mode, "value": value, "label": "x", "summary": {
        "completed": 3, "request_throughput": rps, "output_throughput": tok_s, "mean_input_tokens": 70.0,
        "mean_output_tokens": 32.0, "ttft_ms": dist, "tpot_ms": dist, "e2e_ms": dist}}


def _results() -> dict[str, Any]:
    return {"schema": "stellwerk-bench/1", "command": ["stellwerk", "bench"],
            "started_at": "2026-11-26T01:00:00",
            "config": {"model": "gemma-3-270m", "url": "http://127.0.0.1:8000/v1"},
            "machine": {"processor": "AMD EPYC", "cpus": 2, "gpus": []},
            "steps": [_step("concurrency", 4, tok_s=12.0, rps=0.4, e2e_mean=9000),
                      _step("concurrency", 1, tok_s=4.0, rps=0.12, e2e_mean=8000),
                      _step("poisson", 0.5, tok_s=14.0, rps=0.5, e2e_mean=12000)]}


def test_profile_from_bench_results() -> None:
    profile = profile_from_bench(_results(), model=None, hardware="cpu-node-2vcpu", source="r.json")
    assert profile.model == "gemma-3-270m" and profile.provenance == "measured"
    # Rate step: Little's law, 0.5 req/s x 12 s in flight = 6.
    assert [p.concurrency for p in profile.points] == [1.0, 4.0, 6.0]
    assert profile.points[0].output_tokens_per_s == 4.0
    assert profile.points[0].ttft_ms.p95 == pytest.approx(190 + 90 * 5 / 9)
    assert profile.workload.input_tokens == 70.0 and profile.as_of.isoformat() == "2026-11-26"
    assert "AMD EPYC" in profile.source


def test_profile_from_bench_keeps_only_asked_concurrencies() -> None:
    profile = profile_from_bench(_results(), model="x", hardware="h", source="r", concurrencies=[4])
    assert [p.concurrency for p in profile.points] == [4.0]
    with pytest.raises(DataFileError, match="no step"):
        profile_from_bench(_results(), model="x", hardware="h", source="r", concurrencies=[99])


def test_read_bench_results_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"schema": "something-else"}')
    with pytest.raises(DataFileError, match="not a `stellwerk bench` results file"):
        read_bench_results(path)
    path.write_text("{")
    with pytest.raises(DataFileError, match="not JSON"):
        read_bench_results(path)
