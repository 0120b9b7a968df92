"""`stellwerk bench` against the real stack: a few seconds of load, then the structure and sanity of its
results (timings are recorded, never asserted against thresholds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import CHAT_MODEL, Stack


def test_bench_measures_the_real_stack(stack: Stack, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, "-m", "stellwerk_cli.main", "bench", "--url", stack.api, "--model", CHAT_MODEL,
         "--sweep", "concurrency:1,2", "--requests", "3", "--duration", "60", "--input-tokens", "16",
         "--output-tokens", "6", "--warmup", "1", "--slo-ttft-ms", "60000", "--no-progress",
         "--output", str(out)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert [s["value"] for s in results["steps"]] == [1, 2]
    for step in results["steps"]:
        summary = step["summary"]
        assert summary["requests"] == 3 and summary["completed"] == 3, summary["errors_by_status"]
        assert summary["mean_output_tokens"] == 6  # ignore_eos and stop=[] reach the engine
        assert summary["mean_input_tokens"] >= 16  # the server's own count of the prompt (and template)
        assert summary["good_requests"] == 3 and summary["output_throughput"] > 0
        for request in step["requests"]:
            assert request["ok"] and request["usage_reported"]
            assert 0 < request["ttft_s"] <= request["e2e_s"]
            assert request["token_times_s"] == sorted(request["token_times_s"])
        for metric in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"):
            d = summary[metric]
            assert d["count"] > 0 and 0 < d["p50"] <= d["p99"]
    for name in ("latency.png", "throughput.png", "ttft_cdf.png"):
        assert (out / "plots" / name).stat().st_size > 0
    report = (out / "report.md").read_text()
    assert CHAT_MODEL in report and "## Latency (ms)" in report
    print(done.stdout)  # the measured numbers, for the test log
