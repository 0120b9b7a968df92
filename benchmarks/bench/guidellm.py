"""Run guidellm (the vLLM project's load tool) on the same endpoint and workload, for the side-by-side
comparison in the report.

guidellm lives in its own venv (`benchmarks/peers/setup.sh guidellm` → ~/.cache/stellwerk/venvs/
peers-guidellm) because it pins versions that conflict with vLLM's; it is called as a subprocess, one
process per load step so that no step reuses another's prompts (a server's prefix cache would flatter
TTFT). Its scenario file (with the API key, if any) is written to a private temporary folder, so the
key never appears on a command line.

guidellm's names differ from vLLM's: its `inter_token_latency_ms` is per request (E2E - TTFT) /
(output tokens - 1), i.e. vLLM's TPOT (token-weighted), and its `time_per_output_token_ms` is
E2E / output tokens. The comparison maps them accordingly. Its throughputs are recomputed from its JSON
as successful requests (and their output tokens) over the benchmark's duration, the same definition as
ours; its percentiles are its own (nearest-rank-like) ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.bench.metrics import sending_rate
from benchmarks.bench.prompts import Prompt
from benchmarks.bench.schedule import Step

__all__ = ["PeerError", "data_rows", "guidellm_scenario", "peer_executable", "run_guidellm_step",
           "summarize_guidellm"]

PEER = "guidellm"


class PeerError(RuntimeError):
    """The peer tool is missing or failed (the message says how to install it or where its log is)."""


def peer_executable(name: str = PEER) -> Path:
    """The peer's program in its isolated venv; PeerError if `benchmarks/peers/setup.sh` has not run."""
    root = Path(os.environ.get("STELLWERK_PEERS_DIR", Path.home() / ".cache/stellwerk/venvs"))
    venv = root / f"peers-{name}"
    program = venv / "bin" / name
    if not (venv / ".stellwerk-complete").exists() or not program.exists():
        raise PeerError(f"{name} is not installed in {venv}; run: benchmarks/peers/setup.sh {name}")
    return program


def _target(base_url: str) -> tuple[str, dict[str, str]]:
    """guidellm wants the server root and appends `v1/chat/completions`; other layouts get a route."""
    url = base_url.rstrip("/")
    if url.endswith("/v1"):
        return url[: -len("/v1")], {}
    return url, {"/v1/chat/completions": "chat/completions"}


def guidellm_scenario(*, base_url: str, model: str, step: Step, requests: int | None,
                      duration_s: float | None, seed: int, ignore_eos: bool, temperature: float,
                      api_key: str | None, max_tokens: int) -> dict[str, Any]:
    """The scenario document for one step (what `guidellm run -c FILE` reads), less data and outputs."""
    target, routes = _target(base_url)
    body: dict[str, Any] = {"temperature": temperature}
    if ignore_eos:
        body["stop"] = []  # guidellm sends "stop": null, which lets a server add its default stop strings
    backend: dict[str, Any] = {"kind": "openai_http", "target": target, "model": model,
                               "request_format": "/v1/chat/completions", "validate_backend": False,
                               "extras": {"body": body}}
    if not ignore_eos:
        backend["max_tokens"] = max_tokens  # rows carry no output length then: one cap for all
    if routes:
        backend["api_routes"] = routes
    if api_key:
        backend["api_key"] = api_key
    if step.mode == "concurrency":
        profile: dict[str, Any] = {"kind": "concurrent", "streams": [int(step.value)]}
    else:
        profile = {"kind": step.mode, "rate": [step.value]}
    constraints: list[dict[str, Any]] = []
    if requests is not None:
        constraints.append({"kind": "max_requests", "count": requests})
    if duration_s is not None:
        constraints.append({"kind": "max_duration", "seconds": duration_s})
    return {"backend": backend, "profile": profile, "constraints": constraints,
            "seed": {"kind": "static", "value": seed}}


def data_rows(prompts: Iterator[Prompt], count: int, ignore_eos: bool) -> list[dict[str, Any]]:
    """guidellm's dataset rows: the prompt, and the output length it should force (with ignore_eos)."""
    rows = []
    for _, prompt in zip(range(count), prompts, strict=False):
        row: dict[str, Any] = {"prompt": prompt.text}
        if ignore_eos:
            row["output_tokens_count"] = prompt.max_tokens
        rows.append(row)
    return rows


def run_guidellm_step(scenario: dict[str, Any], rows: list[dict[str, Any]], log_path: Path,
                      timeout_s: float) -> dict[str, Any]:
    """Run one guidellm benchmark; returns its JSON report, also kept beside `log_path` (same name,
    .json), where its console output goes."""
    program = peer_executable()
    with tempfile.TemporaryDirectory(prefix="stellwerk-guidellm-") as folder:
        data = Path(folder) / "data.json"
        data.write_text(json.dumps(rows))
        output = Path(folder) / "report.json"
        spec = {**scenario, "data": [{"kind": "json_file", "path": str(data)}],
                "outputs": [{"kind": "json", "path": str(output)}]}
        config = Path(folder) / "scenario.json"
        config.touch(mode=0o600)
        config.write_text(json.dumps({"metadata": {"name": "stellwerk-bench-step"}, "spec": spec}))
        command = [str(program), "run", "-c", str(config), "--disable-progress"]
        with log_path.open("w") as log:
            try:
                done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s,
                                      check=False, cwd=folder)
            except subprocess.TimeoutExpired:
                raise PeerError(f"guidellm did not finish within {timeout_s:g} s; see {log_path}") from None
        if done.returncode != 0 or not output.exists():
            raise PeerError(f"guidellm failed (exit {done.returncode}); see {log_path}")
        text = output.read_text()
    log_path.with_suffix(".json").write_text(text)
    report: dict[str, Any] = json.loads(text)
    return report


def summarize_guidellm(report: dict[str, Any]) -> dict[str, Any]:
    """The comparable numbers of guidellm's (single) benchmark, in our units and names."""
    bench = report["benchmarks"][0]
    metrics = bench["metrics"]
    totals = metrics["request_totals"]
    duration = float(bench["duration"])

    def dist(name: str, scale: float = 1.0) -> dict[str, float]:
        stats = metrics[name]["successful"]
        pct = stats["percentiles"]
        return {"mean": scale * stats["mean"], "p50": scale * pct["p50"], "p90": scale * pct["p90"],
                "p99": scale * pct["p99"]}

    output_tokens = float(metrics["output_token_count"]["successful"]["total_sum"])
    sent = [r["request_start_time"] for kind in ("successful", "errored", "incomplete")
            for r in bench.get("requests", {}).get(kind) or [] if r.get("request_start_time") is not None]
    return {
        "requests": int(totals["total"]), "completed": int(totals["successful"]),
        "failed": int(totals["errored"]) + int(totals["incomplete"]), "duration_s": duration,
        "request_throughput": totals["successful"] / duration if duration > 0 else 0.0,
        "output_throughput": output_tokens / duration if duration > 0 else 0.0,
        "mean_output_tokens": metrics["output_token_count"]["successful"]["mean"],
        "send_rate": sending_rate(sent),
        "ttft_ms": dist("time_to_first_token_ms"),
        "tpot_ms": dist("inter_token_latency_ms"),  # guidellm's ITL is vLLM's TPOT
        "e2e_ms": dist("request_latency", 1000.0),
    }
