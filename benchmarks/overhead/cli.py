"""Command line of the overhead benchmark (`python -m benchmarks.overhead`, `stellwerk bench-overhead`).

Only argparse is imported here; the benchmark's own modules load when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DESCRIPTION", "add_arguments", "handle", "main"]

DESCRIPTION = (
    "Measure the latency the Stellwerk router adds, and the highest request rate one router process "
    "sustains, in front of a fast fake OpenAI-compatible upstream, against the fake directly and the "
    "LiteLLM proxy in the same run, at rising open-loop rates, non-streaming and streaming. Writes JSON, "
    "Markdown and a PNG plot under benchmarks/results/. Takes ~6-10 minutes with the defaults.")


def _rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError("rates must be positive numbers")
    return sorted(rates)


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rates", type=_rates, default=[50, 100, 200, 300, 500, 1000],
                        help="offered rates in requests/s, comma-separated (default 50,100,200,300,500,1000)")
    parser.add_argument("--modes", choices=["both", "non-streaming", "streaming"], default="both",
                        help="which request kinds to send (default both)")
    parser.add_argument("--duration", type=_positive, default=8.0, metavar="SECONDS",
                        help="measured seconds per step (default 8)")
    parser.add_argument("--warmup", type=float, default=1.0, metavar="SECONDS",
                        help="seconds per step left out of the statistics (default 1)")
    parser.add_argument("--refine", type=int, default=2,
                        help="bisection steps per gateway and mode towards its highest sustained rate "
                             "(default 2)")
    parser.add_argument("--p99-bound-ms", type=_positive, default=50.0,
                        help="a sustained rate keeps p99 latency under this (default 50 ms)")
    parser.add_argument("--pieces", type=int, default=20,
                        help="text pieces per fake answer, i.e. chunks per stream (default 20)")
    parser.add_argument("--no-litellm", dest="litellm", action="store_false",
                        help="leave the LiteLLM proxy out (it is run by default)")
    parser.add_argument("--litellm-venv", type=Path, default=None,
                        help="the LiteLLM venv (default ~/.cache/stellwerk/venvs/peers-litellm, made by "
                             "benchmarks/peers/litellm.sh)")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin processes to CPUs (default: the gateways on the last CPU, the load "
                             "generator and the fake on the others)")
    parser.add_argument("--profile", default="stellwerk,litellm", metavar="TARGETS",
                        help="gateways to profile with py-spy after the sweep, comma-separated, or 'none' "
                             "(default stellwerk,litellm)")
    parser.add_argument("--profile-rate", type=_positive, default=500.0,
                        help="offered rate of the profiling steps (default 500)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default benchmarks/results/)")


def handle(args: argparse.Namespace) -> int:
    """Run the benchmark; clear errors exit with 2."""
    from benchmarks.overhead.runner import BenchmarkError, run

    try:
        return run(args)
    except BenchmarkError as exc:
        print(f"bench-overhead: {exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=DESCRIPTION)
    add_arguments(parser)
    return handle(parser.parse_args(argv))
