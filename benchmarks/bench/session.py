"""One `stellwerk bench` session: run the steps, optionally the peer tool, and write JSON, plots, report.

Layout of the output folder: `results.json` (the source of every number), `report.md`, `plots/*.png`,
and `guidellm-<n>.log` when a comparison ran.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.bench import guidellm
from benchmarks.bench.client import RequestSettings
from benchmarks.bench.compare import compare_step
from benchmarks.bench.lengths import LengthDist
from benchmarks.bench.metrics import SLO, StepSummary, summarize_step
from benchmarks.bench.plots import draw_plots
from benchmarks.bench.prompts import DatasetEntry, PromptSource
from benchmarks.bench.report import render_report
from benchmarks.bench.results import build_results, jsonable, machine_info, write_results
from benchmarks.bench.runner import Bounds, Target, run_steps
from benchmarks.bench.schedule import Step

__all__ = ["BenchConfig", "run_session"]

_PEER_SEED_OFFSET = 7919  # the peer's prompts differ from ours (same distribution), see prompts.py


@dataclass(frozen=True)
class BenchConfig:
    """Everything a session needs. `api_key` is sent, never written to the results."""

    base_url: str
    model: str
    steps: list[Step]
    bounds: Bounds
    output_tokens: LengthDist
    seed: int
    output_dir: Path
    input_tokens: LengthDist | None = None  # synthetic prompts, or:
    dataset: list[DatasetEntry] | None = None
    dataset_name: str | None = None
    api_key: str | None = field(default=None, repr=False)
    slo: SLO = field(default_factory=SLO)
    ignore_eos: bool = True
    temperature: float = 0.0
    timeout_s: float = 300.0
    warmup: int = 0
    compare: str | None = None
    show_progress: bool = True
    command: Sequence[str] = ()

    def prompts(self, seed: int) -> PromptSource:
        return PromptSource(self.output_tokens, input_dist=self.input_tokens, entries=self.dataset, seed=seed)

    def describe(self) -> dict[str, Any]:
        load = ", ".join(s.label for s in self.steps)
        bounds = " and ".join(x for x in (
            f"{self.bounds.requests} requests" if self.bounds.requests is not None else "",
            f"{self.bounds.duration_s:g} s" if self.bounds.duration_s is not None else "") if x)
        prompts = (f"synthetic, input tokens {self.input_tokens}" if self.input_tokens is not None
                   else f"dataset {self.dataset_name} ({len(self.dataset or [])} prompts)")
        return {"url": self.base_url, "model": self.model, "prompts": prompts,
                "output_tokens": str(self.output_tokens), "ignore_eos": self.ignore_eos,
                "temperature": self.temperature, "seed": self.seed, "load": load, "bounds": bounds,
                "requests_per_step": self.bounds.requests, "duration_per_step_s": self.bounds.duration_s,
                "timeout_s": self.timeout_s, "warmup_requests": self.warmup}


def run_session(config: BenchConfig) -> Path:
    """Run the benchmark, step by step; with a comparison, the peer runs each step right after ours (so
    that drift in the server's speed hits both tools alike). Returns the report's path."""
    started = dt.datetime.now().astimezone()
    machine = machine_info()
    config.output_dir.mkdir(parents=True, exist_ok=True)
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    target = Target(config.base_url, RequestSettings(config.model, config.ignore_eos, config.temperature),
                    headers, config.timeout_s)
    prompts = iter(config.prompts(config.seed))
    peer = _Peer(config) if config.compare else None
    records = []
    for number, step in enumerate(config.steps):
        (step_records,) = asyncio.run(run_steps(
            target, [step], prompts, config.bounds, config.seed + number,
            warmup=config.warmup, show_progress=config.show_progress))
        records.append(step_records)
        if peer is not None:
            peer.run(number, step, summarize_step(step_records, config.slo))
    results = build_results(command=config.command, config=config.describe(), steps=config.steps,
                            records=records, slo=config.slo, started_at=started, machine=machine)
    if peer is not None:
        results["comparison"] = jsonable(peer.comparison)
    write_results(results, config.output_dir / "results.json")
    draw_plots(results, config.output_dir / "plots")
    report = config.output_dir / "report.md"
    report.write_text(render_report(results))
    return report


class _Peer:
    """guidellm, run one step at a time; a failure is recorded and ends the comparison, not the run."""

    NOTE = ("guidellm ran each step right after `stellwerk bench` ran it, on the same endpoint, one process "
            "per step, with prompts drawn from the same distribution (a different seed, so the server's "
            "prefix cache cannot reuse ours). Difference = (guidellm - ours) / ours. Our TPOT is compared "
            "with guidellm's ITL, which has TPOT's definition. Both tools share the machine's CPUs with "
            "the server when it runs locally.")

    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self.prompts = iter(config.prompts(config.seed + _PEER_SEED_OFFSET))
        self.comparison: dict[str, Any] = {"tool": guidellm.PEER, "note": self.NOTE, "steps": [],
                                           "error": None}

    def run(self, number: int, step: Step, ours: StepSummary) -> None:
        if self.comparison["error"]:
            return
        config = self.config
        rows = guidellm.data_rows(self.prompts, config.bounds.requests or max(2 * ours.requests, 20),
                                  config.ignore_eos)
        scenario = guidellm.guidellm_scenario(
            base_url=config.base_url, model=config.model, step=step, requests=config.bounds.requests,
            duration_s=config.bounds.duration_s, seed=config.seed + number, ignore_eos=config.ignore_eos,
            temperature=config.temperature, api_key=config.api_key,
            max_tokens=round(config.output_tokens.mean))
        limit = (config.bounds.duration_s or config.timeout_s) + config.timeout_s
        try:
            report = guidellm.run_guidellm_step(scenario, rows, config.output_dir / f"guidellm-{number}.log",
                                                limit)
        except guidellm.PeerError as exc:
            self.comparison["error"] = str(exc)
            return
        peer = guidellm.summarize_guidellm(report)
        ours_json = jsonable(dataclasses.asdict(ours))
        self.comparison["steps"].append({"label": step.label, "peer_summary": peer,
                                         "rows": compare_step(ours_json, peer)})
