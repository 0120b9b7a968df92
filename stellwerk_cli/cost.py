"""`stellwerk cost-model`: cost per 1M tokens of each local model next to the catalogue's API prices.

For the traffic-mix report (all-local, all-remote, as Stellwerk routes it) use `stellwerk plan`, which
prints the same table and prices the mix. Heavy imports happen inside the handler.
"""

from __future__ import annotations

import argparse
import json
import sys

from stellwerk_cli.plan import UsageError, add_profile_arguments, load_inputs

__all__ = ["add_parser", "cost_model"]

_DESCRIPTION = """\
Cost per 1M input, output and blended tokens for every local model with a performance profile
(hardware price per hour / tokens per hour at --utilisation), and the API list prices of the catalogue's
remote models at the same input:output mix. Prices: benchmarks/cost/hardware.yaml (dated, sourced) or
--hardware-prices / --price.

examples:
  stellwerk cost-model
  stellwerk cost-model --mix 3:1 --utilisation 0.7 --price h100-80gb=2.0
  stellwerk cost-model --from-bench results.json --bench-model gemma-3-270m --json
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("cost-model", help="cost per 1M tokens: local models vs API prices",
                            description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_arguments(parser)
    parser.add_argument("--mix", default="3:1", metavar="IN:OUT",
                        help="input:output tokens for the blended price (default 3:1)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=cost_model)


def cost_model(args: argparse.Namespace) -> int:
    from benchmarks.cost.compare import cost_table
    from benchmarks.cost.yaml_file import DataFileError
    from benchmarks.planner.report import markdown_cost_table
    from models.catalogue import load_catalogue

    try:
        mix_in, mix_out = _mix(args.mix)
        profiles, prices, _ = load_inputs(args)
        table = cost_table(profiles, prices, load_catalogue(args.catalogue), utilisation=args.utilisation,
                           input_tokens=mix_in, output_tokens=mix_out)
    except (UsageError, DataFileError, ValueError) as exc:
        print(f"stellwerk cost-model: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(table, indent=1) if args.json else "\n".join(markdown_cost_table(table)).strip())
    return 0


def _mix(text: str) -> tuple[float, float]:
    left, _, right = text.partition(":")
    try:
        mix = float(left), float(right)
    except ValueError:
        raise UsageError(f"--mix {text}: expected IN:OUT, e.g. 3:1") from None
    if min(mix) <= 0:
        raise UsageError(f"--mix {text}: both parts must be positive")
    return mix
