"""`stellwerk bench` outputs: the JSON document, the PNG plots, the Markdown report (its numbers must be
the JSON's), and the guidellm side of the comparison."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench import guidellm
from benchmarks.bench.client import RequestRecord
from benchmarks.bench.compare import compare_step, relative_difference
from benchmarks.bench.metrics import SLO
from benchmarks.bench.plots import PLOTS, draw_plots
from benchmarks.bench.report import render_report
from benchmarks.bench.results import build_results, load_results, write_results
from benchmarks.bench.schedule import Step

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _records(scale: float, failures: int = 0) -> list[RequestRecord]:
    rows = []
    for i in range(6):
        ttft = scale * (0.1 + 0.01 * i)
        times = [ttft + k * scale * 0.02 for k in range(5)]
        rows.append(RequestRecord(index=i, start_s=0.2 * i, scheduled_s=0.2 * i, max_tokens=5,
                                  requested_input_tokens=16, ok=True, status="200",
                                  e2e_s=times[-1] + 0.01, token_times_s=times, prompt_tokens=17,
                                  output_tokens=5, usage_reported=True))
    for j in range(failures):
        rows.append(RequestRecord(index=6 + j, start_s=1.3, scheduled_s=1.3, max_tokens=5,
                                  requested_input_tokens=16, status="429", error="slow down", e2e_s=0.01))
    return rows


def _results() -> dict[str, Any]:
    steps = [Step("poisson", 1.0), Step("poisson", 2.0)]
    results = build_results(
        command=["stellwerk", "bench", "--model", "m"], config={
            "url": "http://h/v1", "model": "m", "prompts": "synthetic", "output_tokens": "5",
            "ignore_eos": True, "seed": 3, "load": "poisson 1, 2", "bounds": "6 requests"},
        steps=steps, records=[_records(1.0), _records(2.0, failures=2)], slo=SLO(ttft_ms=150),
        started_at=dt.datetime(2026, 11, 26, tzinfo=dt.UTC),
        machine={"processor": "cpu", "cpus": 2, "memory_gib": 24.0, "load_average": [1.0, 1.0, 1.0],
                 "gpus": []})
    peer = {"completed": 6, "request_throughput": 2.2, "output_throughput": 11.0, "mean_output_tokens": 5,
            "ttft_ms": {"mean": 120.0, "p50": 118.0, "p90": 140.0, "p99": 150.0},
            "tpot_ms": {"mean": 20.0, "p50": 20.0, "p90": 21.0, "p99": 22.0},
            "e2e_ms": {"mean": 210.0, "p50": 205.0, "p90": 230.0, "p99": 240.0}}
    results["comparison"] = {"tool": "guidellm", "note": "side by side", "error": None, "steps": [
        {"label": s["label"], "peer_summary": peer, "rows": compare_step(s["summary"], peer)}
        for s in results["steps"]]}
    return results


def _table_rows(markdown: str, header_start: str) -> list[list[str]]:
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def _number(cell: str) -> float | None:
    if cell == "n/a":
        return None
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)( %)?", cell)
    assert match, cell
    value = float(match.group(1))
    return value / 100 if match.group(2) else value


def _close(cell: str, value: float | None, decimals: int = 2) -> bool:
    parsed = _number(cell)
    if value is None or parsed is None:
        return parsed is value
    return bool(abs(parsed - value) <= 0.5 * 10 ** -decimals + 1e-9)


def test_results_keep_every_raw_request_and_survive_a_round_trip(tmp_path: Path) -> None:
    results = _results()
    path = tmp_path / "results.json"
    write_results(results, path)
    loaded = load_results(path)
    assert loaded == json.loads(json.dumps(results))
    second = loaded["steps"][1]
    assert len(second["requests"]) == 8 and second["summary"]["errors_by_status"] == {"429": 2}
    assert second["requests"][0]["token_times_s"] == pytest.approx([0.2, 0.24, 0.28, 0.32, 0.36])
    assert loaded["command"][:2] == ["stellwerk", "bench"] and loaded["machine"]["cpus"] == 2


def test_load_results_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"schema": "something-else"}')
    with pytest.raises(ValueError, match="not a `stellwerk bench` results file"):
        load_results(path)


def test_plots_are_non_empty_pngs(tmp_path: Path) -> None:
    paths = draw_plots(_results(), tmp_path / "plots")
    assert set(paths) == set(PLOTS)
    for path in paths.values():
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000


def test_report_numbers_are_the_json_numbers() -> None:
    results = _results()
    markdown = render_report(results)
    steps = {s["label"]: s["summary"] for s in results["steps"]}

    throughput = _table_rows(markdown, "| step | requests |")
    assert len(throughput) == 2
    for row in throughput:
        s = steps[row[0]]
        assert [int(row[1]), int(row[2]), int(row[3])] == [s["requests"], s["completed"], s["failed"]]
        assert _close(row[4], s["error_rate"], 3) and _close(row[11], s["good_share"], 3)
        assert _close(row[12], s["send_rate"])
        for cell, key in zip(row[5:11], ("duration_s", "request_throughput", "output_throughput",
                                          "mean_input_tokens", "mean_output_tokens", "goodput"), strict=True):
            assert _close(cell, s[key]), (key, cell, s[key])

    names = {"TTFT": "ttft_ms", "ITL": "itl_ms", "TPOT": "tpot_ms", "E2E": "e2e_ms"}
    latency = _table_rows(markdown, "| step | metric |")
    assert len(latency) == 8
    for label, metric, *cells in latency:
        d = steps[label][names[metric]]
        for cell, key in zip(cells[:4], ("mean", "p50", "p90", "p99"), strict=True):
            assert _close(cell, d[key]), (label, metric, key)
        assert int(cells[4]) == d["count"]


def test_report_embeds_the_plots_and_shows_errors_and_slo() -> None:
    markdown = render_report(_results())
    for name in PLOTS:
        assert f"](plots/{name})" in markdown
    assert "poisson 2 req/s: 429: 2" in markdown
    assert "TTFT <= 150 ms" in markdown and "vLLM benchmark_serving" in markdown
    assert "poisson 1 req/s: 0.00 ms" in markdown  # the scripted requests left on time


def test_report_comparison_matches_the_json() -> None:
    results = _results()
    markdown = render_report(results)
    assert "## Comparison with guidellm" in markdown
    first = results["comparison"]["steps"][0]
    rows = _table_rows(markdown, "| metric | stellwerk bench | guidellm |")
    assert [r[0] for r in rows] == [r["metric"] for r in first["rows"]]
    for cells, row in zip(rows, first["rows"], strict=True):
        assert _close(cells[1], row["ours"]) and _close(cells[2], row["peer"])
        assert _close(cells[3], row["relative_difference"], 3)


def test_relative_difference() -> None:
    assert relative_difference(100.0, 110.0) == pytest.approx(0.1)
    assert relative_difference(0.0, 1.0) is None and relative_difference(None, 1.0) is None


def test_guidellm_scenario_matches_the_step() -> None:
    common: dict[str, Any] = {"model": "m", "requests": 10, "duration_s": 30.0, "seed": 4,
                              "temperature": 0.0, "max_tokens": 32}
    scenario = guidellm.guidellm_scenario(base_url="http://h:8000/v1", step=Step("poisson", 2.5),
                                          ignore_eos=True, api_key="sk-secret", **common)
    backend = scenario["backend"]
    assert backend["target"] == "http://h:8000" and "api_routes" not in backend
    assert backend["api_key"] == "sk-secret" and backend["extras"]["body"]["stop"] == []
    assert scenario["profile"] == {"kind": "poisson", "rate": [2.5]}
    assert {"kind": "max_requests", "count": 10} in scenario["constraints"]
    assert {"kind": "max_duration", "seconds": 30.0} in scenario["constraints"]
    other = guidellm.guidellm_scenario(base_url="http://h/api", step=Step("concurrency", 4),
                                       ignore_eos=False, api_key=None, **common)
    assert other["backend"]["api_routes"] == {"/v1/chat/completions": "chat/completions"}
    assert other["backend"]["max_tokens"] == 32 and "api_key" not in other["backend"]
    assert other["profile"] == {"kind": "concurrent", "streams": [4]}


def _stats(mean: float, p50: float, p90: float, p99: float, total: float = 0.0) -> dict[str, Any]:
    return {"successful": {"mean": mean, "total_sum": total,
                           "percentiles": {"p50": p50, "p90": p90, "p95": p90, "p99": p99}}}


def test_guidellm_summary_maps_its_names_onto_ours() -> None:
    starts = [{"request_start_time": 100.0 + 0.5 * i} for i in range(8)]  # 2 per second
    requests = {"successful": starts, "errored": None}
    report = {"benchmarks": [{"duration": 4.0, "requests": requests, "metrics": {
        "request_totals": {"successful": 8, "errored": 1, "incomplete": 1, "total": 10},
        "output_token_count": _stats(16, 16, 16, 16, total=128.0),
        "time_to_first_token_ms": _stats(30, 29, 40, 50),
        "inter_token_latency_ms": _stats(5, 5, 6, 7),
        "request_latency": _stats(0.11, 0.1, 0.12, 0.2),
    }}]}
    s = guidellm.summarize_guidellm(report)
    assert (s["requests"], s["completed"], s["failed"]) == (10, 8, 2)
    assert s["request_throughput"] == pytest.approx(2.0) and s["output_throughput"] == pytest.approx(32.0)
    assert s["ttft_ms"] == {"mean": 30, "p50": 29, "p90": 40, "p99": 50}
    assert s["tpot_ms"]["p99"] == 7  # guidellm's ITL is vLLM's TPOT
    assert s["send_rate"] == pytest.approx(2.0)
    assert s["e2e_ms"] == pytest.approx({"mean": 110, "p50": 100, "p90": 120, "p99": 200})


def test_a_missing_peer_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLWERK_PEERS_DIR", str(tmp_path))
    with pytest.raises(guidellm.PeerError, match=r"benchmarks/peers/setup\.sh guidellm"):
        guidellm.peer_executable()
