"""`stellwerk bench-overhead`: the router overhead benchmark (benchmarks/overhead)."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from benchmarks.overhead.cli import DESCRIPTION, add_arguments, handle

    parser = sub.add_parser("bench-overhead", help="latency the router adds vs a fake upstream and LiteLLM",
                            description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(handler=handle)
