"""The rate sweep: every rate and mode, each target side by side (interleaved, so drift in the shared
machine's load hits all targets alike), then a bisection for each gateway's highest sustained rate.

A gateway that fails `stop_after` rates in a row is not driven to higher rates (it would only queue);
the direct-to-fake target always runs every rate: it is the load generator's own check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from benchmarks.overhead.cpu import cpu_seconds
from benchmarks.overhead.stats import StepSummary, SustainCriteria, max_sustained
from benchmarks.overhead.steps import Target, run_step

__all__ = ["DIRECT", "StepRecord", "SweepConfig", "next_probe", "planned_steps", "run_sweep"]

DIRECT = "direct"
LOADGEN = "loadgen"  # this process: its CPU is counted apart from the servers it started


@dataclass(frozen=True)
class SweepConfig:
    rates: Sequence[float] = (50, 100, 200, 500, 1000)
    modes: Sequence[str] = ("non-streaming", "streaming")
    duration_s: float = 8.0
    warmup_s: float = 1.0
    refine: int = 2
    stop_after: int = 2
    pause_s: float = 1.0
    pieces: int = 8
    max_in_flight: int = 2000
    timeout_s: float = 15.0
    criteria: SustainCriteria = field(default_factory=SustainCriteria)


@dataclass(frozen=True)
class StepRecord:
    """A step's summary plus the CPU milliseconds per sent request of each watched process."""

    summary: StepSummary
    cpu_ms_per_request: dict[str, float]
    refine: bool = False


def next_probe(steps: Sequence[StepSummary], criteria: SustainCriteria,
               granularity: float = 10) -> float | None:
    """The rate halfway between the highest sustained rate and the lowest failed one above it (rounded to
    `granularity`), or None when there is nothing left to bisect."""
    best = max_sustained(steps, criteria)
    if best is None:
        return None
    failed = [s.offered_rate for s in steps if s.offered_rate > best and not s.sustains(criteria)]
    if not failed:
        return None
    probe = round((best + min(failed)) / 2 / granularity) * granularity
    return probe if best < probe < min(failed) else None


class _Sweep:
    def __init__(self, targets: Sequence[Target], config: SweepConfig, pids: dict[str, int],
                 on_step: Callable[[StepRecord], None]) -> None:
        self.targets, self.config, self.pids, self.on_step = targets, config, pids, on_step
        self.records: list[StepRecord] = []

    async def step(self, target: Target, mode: str, rate: float, refine: bool = False) -> StepSummary:
        cfg = self.config
        before, own_before = cpu_seconds(self.pids.values()), time.process_time()
        summary, outcomes = await run_step(target, mode, rate, cfg.duration_s, cfg.warmup_s,
                                           pieces=cfg.pieces, max_in_flight=cfg.max_in_flight,
                                           timeout_s=cfg.timeout_s)
        after, own = cpu_seconds(self.pids.values()), time.process_time() - own_before
        sent = max(1, sum(not o.dropped for o in outcomes))
        cpu = {name: 1000 * (after[pid] - before[pid]) / sent for name, pid in self.pids.items()}
        cpu[LOADGEN] = 1000 * own / sent
        record = StepRecord(summary, cpu, refine)
        self.records.append(record)
        self.on_step(record)
        await asyncio.sleep(cfg.pause_s)  # let sockets and queues settle before the next target
        return summary

    def steps_of(self, name: str, mode: str) -> list[StepSummary]:
        return [r.summary for r in self.records if r.summary.target == name and r.summary.mode == mode]

    async def ladder(self, mode: str) -> None:
        failures = {t.name: 0 for t in self.targets}
        for rate in self.config.rates:
            for target in self.targets:
                if target.name != DIRECT and failures[target.name] >= self.config.stop_after:
                    continue
                summary = await self.step(target, mode, rate)
                ok = summary.sustains(self.config.criteria)
                failures[target.name] = 0 if ok else failures[target.name] + 1

    async def bisect(self, mode: str) -> None:
        for target in self.targets:
            if target.name == DIRECT:
                continue
            for _ in range(self.config.refine):
                probe = next_probe(self.steps_of(target.name, mode), self.config.criteria)
                if probe is None:
                    break
                await self.step(target, mode, probe, refine=True)


async def run_sweep(targets: Sequence[Target], config: SweepConfig, pids: dict[str, int],
                    on_step: Callable[[StepRecord], None]) -> list[StepRecord]:
    """Run the whole sweep; `pids` names the server processes whose CPU time (with their children's) is
    measured per step, besides this process's own (`loadgen`)."""
    sweep = _Sweep(targets, config, pids, on_step)
    for mode in config.modes:
        await sweep.ladder(mode)
        await sweep.bisect(mode)
    return sweep.records


def planned_steps(targets: Sequence[Target], config: SweepConfig) -> int:
    """An upper bound of the steps a sweep runs (for the progress bar)."""
    gateways = sum(t.name != DIRECT for t in targets)
    return len(config.modes) * (len(config.rates) * len(targets) + gateways * config.refine)
