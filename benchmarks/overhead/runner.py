"""Run the overhead benchmark end to end: place and start the servers, sweep, profile, write results."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.overhead import litellm_peer
from benchmarks.overhead.fake_upstream import ANSWER_PIECES
from benchmarks.overhead.hotspots import find_py_spy, parse_collapsed, record
from benchmarks.overhead.report import build_document, render_markdown, render_plot
from benchmarks.overhead.router_server import MODEL_ID
from benchmarks.overhead.servers import Running, Server, ServerError, free_port, running
from benchmarks.overhead.stats import SustainCriteria
from benchmarks.overhead.steps import MODES, Target
from benchmarks.overhead.sweep import DIRECT, StepRecord, SweepConfig, planned_steps, run_sweep

__all__ = ["BenchmarkError", "run"]

RESULTS = Path(__file__).resolve().parents[1] / "results"


class BenchmarkError(RuntimeError):
    """Something the user can fix (a missing peer venv, a server that does not start)."""


def _placement(pin: bool) -> tuple[str | None, str | None, str]:
    """(CPUs of the gateways, CPUs of the generator and fake, a description)."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None, "not pinned"
    gateway, rest = str(cpus[-1]), ",".join(map(str, cpus[:-1]))
    return gateway, rest, (f"gateways (Stellwerk, LiteLLM) on CPU {gateway}; load generator and fake "
                           f"upstream on CPU {rest} (taskset)")


def _servers(args: argparse.Namespace, workdir: Path, gw_cpus: str | None,
             rest_cpus: str | None) -> tuple[Server, list[Server]]:
    py = sys.executable
    fake_port = free_port()
    fake = Server("fake", [py, "-m", "benchmarks.overhead.fake_upstream", "--port", str(fake_port),
                           "--pieces", str(args.pieces)], fake_port, "/v1/models", rest_cpus)
    upstream = f"{fake.base_url}/v1"
    port = free_port()
    gateways = [Server("stellwerk", [py, "-m", "benchmarks.overhead.router_server", "--upstream", upstream,
                                     "--port", str(port)], port, "/health", gw_cpus)]
    if args.litellm:
        venv = litellm_peer.venv_path(args.litellm_venv)
        if venv is None:
            raise BenchmarkError(f"the LiteLLM venv is missing; {litellm_peer.SETUP_HINT}")
        config = workdir / "litellm.yaml"
        config.write_text(litellm_peer.config_yaml(upstream, MODEL_ID), encoding="utf-8")
        port = free_port()
        command = litellm_peer.litellm_command(venv, config, port)
        gateways.append(Server("litellm", command, port, "/health/liveliness", gw_cpus,
                               litellm_peer.litellm_env(), start_timeout_s=120))
    return fake, gateways


def _machine(placement: str, litellm: bool, args: argparse.Namespace) -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    info: dict[str, Any] = {"cpu_model": model, "cpus": os.cpu_count(), "memory_gib": round(pages / 2**30, 1),
                            "python": platform.python_version(), "placement": placement,
                            "loadavg_before": " ".join(f"{v:.2f}" for v in os.getloadavg())}
    if litellm:
        venv = litellm_peer.venv_path(args.litellm_venv)
        version = next(iter(sorted(venv.glob(".stellwerk-litellm-*"))), None) if venv else None
        info["litellm_version"] = version.name.removeprefix(".stellwerk-litellm-") if version else "unknown"
    return info


def _progress(total: int) -> Any:
    from tqdm import tqdm  # type: ignore[import-untyped]

    bar = tqdm(total=total, unit="step", desc="overhead sweep", file=sys.stderr)

    def on_step(r: StepRecord) -> None:
        s = r.summary
        bar.set_postfix_str(f"{s.target} {s.mode} {s.offered_rate:g}/s p99 {s.p99_ms:.1f} ms "
                            f"achieved {s.achieved_rate:.0f}")
        bar.update(1)
    return bar, on_step


async def _profile(target: Target, pid: int, config: SweepConfig, rate: float, prefix: Path,
                   pids: dict[str, int]) -> list[dict[str, Any]]:
    """Profile `target` under `rate` in each mode (py-spy over the measured part of a step)."""
    py_spy = find_py_spy()
    if py_spy is None:
        print("bench-overhead: py-spy not found; skipping profiles (pip install py-spy)", file=sys.stderr)
        return []
    profiles = []
    for mode in config.modes:
        raw = Path(f"{prefix}profile-{target.name}-{mode}.txt")
        seconds = max(1, int(config.duration_s))
        spy = record(py_spy, pid, seconds, raw)
        records = await run_sweep([target], _single(config, mode, rate), pids, lambda _: None)
        _, err = await asyncio.to_thread(spy.communicate)
        text = await asyncio.to_thread(_read_or_empty, raw)
        if spy.returncode != 0 or not text:
            print(f"bench-overhead: py-spy failed on {target.name}: {err.decode()[-300:]}", file=sys.stderr)
            continue
        parsed = parse_collapsed(text.splitlines())
        profiles.append({"target": target.name, "mode": mode, "rate": rate, "samples": parsed.total,
                         "busy_pct": 100 * parsed.total / (250 * seconds), "raw": raw.name,
                         "cpu_ms_per_request": records[0].cpu_ms_per_request.get(target.name),
                         "p99_ms": records[0].summary.p99_ms,
                         "components": parsed.top(parsed.components, 12),
                         "top_self": parsed.top(parsed.self_samples, 15),
                         "top_inclusive": parsed.top(parsed.inclusive, 20)})
    return profiles


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _single(config: SweepConfig, mode: str, rate: float) -> SweepConfig:
    from dataclasses import replace

    return replace(config, rates=[rate], modes=[mode], refine=0, stop_after=1)


def _write(doc: dict[str, Any], out: Path, stamp: str) -> Path:
    json_path = out / f"{stamp}-overhead.json"
    json_path.write_text(json.dumps(doc, indent=2, allow_nan=False, default=str) + "\n")
    plot = out / f"{stamp}-overhead.png"
    render_plot(doc, plot)
    md = out / f"{stamp}-overhead.md"
    md.write_text(render_markdown(doc, plot.name))
    return md


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    return value


def run(args: argparse.Namespace) -> int:
    config = SweepConfig(rates=args.rates, modes=MODES if args.modes == "both" else (args.modes,),
                         duration_s=args.duration, warmup_s=args.warmup, refine=args.refine,
                         pieces=args.pieces or ANSWER_PIECES,
                         criteria=SustainCriteria(p99_bound_ms=args.p99_bound_ms))
    out = args.out or RESULTS
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    gw_cpus, rest_cpus, placement = _placement(args.pin)
    machine = _machine(placement, args.litellm, args)
    if rest_cpus is not None:
        os.sched_setaffinity(0, {int(c) for c in rest_cpus.split(",")})
    with tempfile.TemporaryDirectory(prefix="stellwerk-overhead-") as tmp:
        fake, gateways = _servers(args, Path(tmp), gw_cpus, rest_cpus)
        log_dir = out / f"{stamp}-overhead-logs"
        log_dir.mkdir(exist_ok=True)
        try:
            with contextlib.ExitStack() as stack:
                fake_run = stack.enter_context(running(fake, log_dir))
                runs = [stack.enter_context(running(g, log_dir)) for g in gateways]
                doc = asyncio.run(_measure(args, config, fake_run, runs, out, stamp))
        except ServerError as exc:
            raise BenchmarkError(str(exc)) from exc
    doc["machine"] = {**machine, "loadavg_after": " ".join(f"{v:.2f}" for v in os.getloadavg())}
    path = _write(_nan_to_none(doc), out, stamp)
    print(path.read_text())
    print(f"results: {path}", file=sys.stderr)
    return 0


async def _measure(args: argparse.Namespace, config: SweepConfig, fake: Running, runs: list[Running],
                   out: Path, stamp: str) -> dict[str, Any]:
    targets = [Target(DIRECT, fake.server.base_url + "/v1/chat/completions", MODEL_ID)]
    targets += [Target(r.server.name, r.server.base_url + "/v1/chat/completions", MODEL_ID) for r in runs]
    pids = {"fake": fake.pid, **{r.server.name: r.pid for r in runs}}
    bar, on_step = _progress(planned_steps(targets, config))
    with bar:
        records = await run_sweep(targets, config, pids, on_step)
        bar.total = bar.n  # the plan was an upper bound: gateways skip rates above their failures
        bar.refresh()
    wanted = {t.strip() for t in args.profile.split(",")} - {"none", ""}
    profiles = []
    for r in runs:
        if r.server.name in wanted:
            target = next(t for t in targets if t.name == r.server.name)
            profiles += await _profile(target, r.pid, config, args.profile_rate, out / f"{stamp}-", pids)
    return build_document(records, config.criteria, machine={}, profiles=profiles, config={
        "rates": list(config.rates), "modes": list(config.modes), "duration_s": config.duration_s,
        "warmup_s": config.warmup_s, "refine": config.refine, "pieces": config.pieces,
        "profile_rate": args.profile_rate, "stamp": stamp, "git_revision": _git_revision()})


def _git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
