"""`stellwerk bench`: load-test an OpenAI-compatible chat endpoint and write JSON, PNG plots and a report.

The work lives in `benchmarks.bench`; this module only parses and checks arguments (heavy imports happen
inside the handler).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from benchmarks.bench.lengths import LengthDist, LengthSpecError, parse_length
from benchmarks.bench.schedule import Step, SweepError, parse_sweep

__all__ = ["add_parser", "bench"]

DEFAULT_URL = "http://127.0.0.1:8000/v1"
RESULTS_ROOT = Path(__file__).resolve().parent.parent / "benchmarks" / "results"

_DESCRIPTION = """\
Send streamed chat requests to an OpenAI-compatible endpoint (Stellwerk, a vLLM server, a remote API) at a
constant rate, with Poisson arrivals or at a fixed concurrency, for one load level or a sweep, and report
TTFT, inter-token latency, time per output token and end-to-end latency (mean, p50, p90, p99),
requests/s, output tokens/s, errors by status and goodput under an SLO. Definitions follow vLLM's
benchmark_serving. Writes results.json (every request's raw timings), plots/*.png and report.md.

examples:
  stellwerk bench --model gemma-3-270m --concurrency 4 --requests 20
  stellwerk bench --model gemma-3-270m --sweep rate:0.5,1,2 --arrival poisson --duration 60
  stellwerk bench --model gpt-4o-mini --url https://api.openai.com/v1 --api-key-env OPENAI_API_KEY \\
      --no-ignore-eos --dataset prompts.jsonl --rate 1 --requests 10
  stellwerk bench --model gemma-3-270m --sweep concurrency:1,4 --requests 16 --compare guidellm
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("bench", help="load-test an OpenAI-compatible endpoint; JSON, plots and a report",
                            description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_argument_group("endpoint")
    target.add_argument("--url", default=DEFAULT_URL,
                        help=f"API base URL, ending in /v1 (default {DEFAULT_URL})")
    target.add_argument("--model", required=True, help="model to request (e.g. gemma-3-270m, auto)")
    target.add_argument("--api-key-env", metavar="NAME", help="environment variable holding the API key")
    target.add_argument("--timeout", type=_positive(float), default=300.0, metavar="SECONDS",
                        help="per-request timeout (default 300)")
    load = parser.add_argument_group("load (one of --rate, --concurrency, --sweep; default --concurrency 1)")
    level = load.add_mutually_exclusive_group()
    level.add_argument("--rate", type=_positive(float), help="requests per second (see --arrival)")
    level.add_argument("--concurrency", type=_positive(int), help="requests kept in flight")
    level.add_argument("--sweep", metavar="KIND:V1,V2,...",
                       help="several steps: rate:1,2,4 (see --arrival) or concurrency:1,4,16")
    load.add_argument("--arrival", choices=("poisson", "constant"), default="poisson",
                      help="arrivals for --rate and rate sweeps (default poisson)")
    load.add_argument("--requests", type=_positive(int), default=100,
                      help="at most this many requests per step (default 100)")
    load.add_argument("--duration", type=_positive(float), default=60.0, metavar="SECONDS",
                      help="stop sending after this long per step (default 60); in-flight requests finish")
    load.add_argument("--warmup", type=_non_negative_int, default=1,
                      help="before each step, send this many requests at once and do not count them, so "
                           "that opening connections and the server's first batches of a new size are not "
                           "measured (default 1; use the step's concurrency for a sweep)")
    prompts = parser.add_argument_group("prompts")
    prompts.add_argument("--input-tokens", type=_length, default=parse_length("128"), metavar="SPEC",
                         help="synthetic prompt length: N, uniform:LOW,HIGH or normal:MEAN,STD "
                              "(tokens, ~1 word each; default 128)")
    prompts.add_argument("--output-tokens", type=_length, default=parse_length("64"), metavar="SPEC",
                         help="output length, same forms (default 64)")
    prompts.add_argument("--dataset", metavar="FILE",
                         help="prompts from a JSONL file ({\"prompt\": ..., optional \"output_tokens\": N} "
                              "per line), or 'builtin' for a small shipped set; replaces --input-tokens")
    prompts.add_argument("--no-ignore-eos", dest="ignore_eos", action="store_false",
                         help="do not send vLLM's ignore_eos and stop=[] (for servers that refuse "
                              "unknown fields; answers may then be shorter than --output-tokens)")
    prompts.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (default 0)")
    prompts.add_argument("--seed", type=int, default=None,
                         help="seed for prompts and arrivals (default: a fresh one, recorded in the results)")
    slo = parser.add_argument_group("SLO for goodput (a request must meet every one given)")
    slo.add_argument("--slo-ttft-ms", type=_positive(float), help="time to first token at most this")
    slo.add_argument("--slo-tpot-ms", type=_positive(float), help="time per output token at most this")
    slo.add_argument("--slo-e2e-ms", type=_positive(float), help="end-to-end latency at most this")
    out = parser.add_argument_group("output")
    out.add_argument("--output", type=Path, metavar="DIR",
                     help="output folder (default benchmarks/results/bench-<time>)")
    out.add_argument("--compare", choices=("guidellm",),
                     help="also run this tool (installed by benchmarks/peers/setup.sh) on the same endpoint "
                          "and load, and put both tools' numbers side by side in the report")
    out.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(handler=bench)


class _UsageError(Exception):
    """A problem with the arguments or the environment, reported as `stellwerk bench: ...`, exit 2."""


def bench(args: argparse.Namespace) -> int:
    """The handler: check everything that can be checked up front, then run the session."""
    if not getattr(args, "verbose", False):
        # Per-request INFO lines (httpx) would drown the progress bar.
        for name in ("httpx", "httpcore", "matplotlib", "cluster.gpu"):
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        config = _config(args)
        _check_endpoint(config.base_url, config.api_key)
    except _UsageError as exc:
        print(f"stellwerk bench: {exc}", file=sys.stderr)
        return 2
    from benchmarks.bench.session import run_session

    try:
        report = run_session(config)
    except KeyboardInterrupt:
        print("stellwerk bench: interrupted; nothing was written", file=sys.stderr)
        return 130
    print(f"report: {report}\nresults: {report.with_name('results.json')}")
    _print_summary(report.with_name("results.json"))
    return 0


def _config(args: argparse.Namespace) -> Any:
    from benchmarks.bench.guidellm import PeerError, peer_executable
    from benchmarks.bench.metrics import SLO
    from benchmarks.bench.prompts import DatasetError, load_dataset
    from benchmarks.bench.runner import Bounds
    from benchmarks.bench.session import BenchConfig

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise _UsageError(f"--api-key-env {args.api_key_env}: that environment variable is not set")
    try:
        dataset = load_dataset(args.dataset) if args.dataset else None
    except DatasetError as exc:
        raise _UsageError(str(exc)) from None
    if args.compare:
        try:
            peer_executable(args.compare)
        except PeerError as exc:
            raise _UsageError(str(exc)) from None
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return BenchConfig(
        base_url=args.url.rstrip("/"), model=args.model, steps=_steps(args),
        bounds=Bounds(args.requests, args.duration), output_tokens=args.output_tokens, seed=seed,
        output_dir=args.output or RESULTS_ROOT / f"bench-{stamp}",
        input_tokens=None if dataset else args.input_tokens, dataset=dataset, dataset_name=args.dataset,
        api_key=api_key, slo=SLO(args.slo_ttft_ms, args.slo_tpot_ms, args.slo_e2e_ms),
        ignore_eos=args.ignore_eos, temperature=args.temperature, timeout_s=args.timeout,
        warmup=args.warmup, compare=args.compare, show_progress=args.progress,
        command=_command_line(args, seed))


_RECORDED_OPTIONS = (
    "url", "model", "api_key_env", "timeout", "rate", "concurrency", "sweep", "arrival", "requests",
    "duration", "warmup", "input_tokens", "output_tokens", "dataset", "temperature", "slo_ttft_ms",
    "slo_tpot_ms", "slo_e2e_ms", "output", "compare",
)


def _command_line(args: argparse.Namespace, seed: int) -> list[str]:
    """The effective command, defaults and the drawn seed included, so that a run can be repeated."""
    words = ["stellwerk", "bench"]
    for dest in _RECORDED_OPTIONS:
        value = getattr(args, dest)
        if value is not None and not (dest == "input_tokens" and args.dataset):
            words += ["--" + dest.replace("_", "-"), str(value)]
    words += ["--seed", str(seed)] + ([] if args.ignore_eos else ["--no-ignore-eos"])
    return words


def _steps(args: argparse.Namespace) -> list[Step]:
    if args.sweep:
        try:
            return parse_sweep(args.sweep, args.arrival)
        except SweepError as exc:
            raise _UsageError(str(exc)) from None
    if args.rate is not None:
        return [Step(args.arrival, args.rate)]
    return [Step("concurrency", args.concurrency or 1)]


def _check_endpoint(url: str, api_key: str | None) -> None:
    """Fail early, with a clear message, when nothing answers at `url`."""
    import httpx

    if not url.startswith(("http://", "https://")):
        raise _UsageError(f"--url {url}: expected an http:// or https:// URL")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        reply = httpx.get(url + "/models", headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise _UsageError(f"cannot reach {url} ({type(exc).__name__}); is the server running?") from None
    if reply.status_code in (401, 403):
        raise _UsageError(f"{url} refused the request ({reply.status_code}): check --api-key-env")


def _print_summary(results_path: Path) -> None:
    from benchmarks.bench.report import fmt, pct
    from benchmarks.bench.results import load_results

    for step in load_results(results_path)["steps"]:
        s = step["summary"]
        print(f"{step['label']}: {s['completed']}/{s['requests']} ok, {fmt(s['request_throughput'])} req/s, "
              f"{fmt(s['output_throughput'])} output tok/s, TTFT p50 {fmt(s['ttft_ms']['p50'])} ms, "
              f"TPOT p50 {fmt(s['tpot_ms']['p50'])} ms, errors {pct(s['error_rate'])}")


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, not {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, not {text!r}")
        return value

    return parse


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, not {text!r}")
    return value


def _length(text: str) -> LengthDist:
    try:
        return parse_length(text)
    except LengthSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
