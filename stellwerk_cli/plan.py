"""`stellwerk plan`: size the local fleet for a traffic profile; JSON, Markdown and a PNG.

Also `--predict` (what a profile predicts at given concurrencies) and `--validate` (predicted vs a
measured `stellwerk bench` run). The work lives in `benchmarks.planner`; this module parses arguments
and maps data-file errors to exit status 2 (heavy imports happen inside the handler).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "add_profile_arguments", "load_inputs", "plan"]

RESULTS_ROOT = Path(__file__).resolve().parent.parent / "benchmarks" / "results"

_DESCRIPTION = """\
Answer "how many GPUs, and what does it cost?" for a traffic profile (YAML: requests/s per hour of the
day, length mix, task mix, SLOs): replicas per local model to meet the SLO at the peak, the share that
spills to remote APIs at the peak under a unit cap, monthly cost (hardware + APIs) next to all-remote and
all-local, and the break-even hardware price and traffic volume. Performance profiles come from
benchmarks/profiles/ (measured here, or PUBLISHED figures for hardware we cannot measure, labeled so),
or from a `stellwerk bench` results file.

examples:
  stellwerk plan benchmarks/planner/examples/traffic.yaml
  stellwerk plan traffic.yaml --gpu-cap 2 --price h100-80gb=2.2
  stellwerk plan traffic.yaml --from-bench results.json --bench-model gemma-3-270m \\
      --bench-hardware cpu-node-2vcpu
  stellwerk plan --from-bench calib.json --bench-model gemma-3-270m --bench-hardware cpu-node-2vcpu \\
      --validate measured.json
"""


class UsageError(Exception):
    """Reported as `stellwerk <command>: ...` with exit status 2."""


def add_profile_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with `stellwerk cost-model`: profiles, prices, bench results."""
    g = parser.add_argument_group("performance profiles and prices")
    g.add_argument("--profile", type=Path, action="append", metavar="FILE_OR_DIR",
                   help="performance profile YAML (or a folder of them); repeatable "
                        "(default: every profile in benchmarks/profiles/)")
    g.add_argument("--from-bench", type=Path, metavar="RESULTS_JSON",
                   help="build a measured profile from a `stellwerk bench` results.json (replaces a "
                        "shipped profile of the same model)")
    g.add_argument("--bench-model", help="catalogue id the bench run measured (default: its --model); "
                                        "without --from-bench, the profile --predict/--validate use")
    g.add_argument("--bench-hardware", default="cpu-node-2vcpu",
                   help="hardware id the bench run ran on (default cpu-node-2vcpu)")
    g.add_argument("--bench-concurrency", metavar="C1,C2,...",
                   help="use only these concurrency steps of the bench run")
    g.add_argument("--bench-input-weight", type=float, default=0.2, metavar="W",
                   help="replica time of a prompt token relative to an output token for the bench "
                        "profile (default 0.2, measured on this CPU)")
    g.add_argument("--hardware-prices", type=Path, metavar="FILE",
                   help="hardware prices YAML (default benchmarks/cost/hardware.yaml)")
    g.add_argument("--price", action="append", default=[], metavar="HARDWARE=USD_PER_HOUR",
                   help="override one unit price, e.g. h100-80gb=2.2 (repeatable)")
    g.add_argument("--utilisation", type=float, default=0.5,
                   help="share of paid hours a replica runs at its load point, for cost per 1M tokens "
                        "(default 0.5)")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("plan", help="capacity plan: GPUs per model, spill, monthly cost, break-even",
                            description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("traffic", type=Path, nargs="?", help="traffic profile YAML")
    add_profile_arguments(parser)
    r = parser.add_argument_group("routing")
    r.add_argument("--objective", default=None, help="routing objective (default: the config's default)")
    r.add_argument("--routing-config", type=Path, metavar="FILE",
                   help="routing configuration (default router/routing/default.yaml)")
    r.add_argument("--quality", type=Path, metavar="FILE", help="quality table (default models/quality.yaml)")
    r.add_argument("--gpu-cap", type=int, metavar="N",
                   help="the most units (GPUs; nodes for CPU profiles) for all local models together")
    v = parser.add_argument_group("validation")
    v.add_argument("--predict", metavar="C1,C2,...",
                   help="print what the (bench) profile predicts at these concurrencies and exit")
    v.add_argument("--validate", type=Path, metavar="MEASURED_JSON",
                   help="compare the profile's predictions with a measured `stellwerk bench` run")
    v.add_argument("--validate-concurrency", metavar="C1,C2,...",
                   help="compare only these steps of the measured run (e.g. those not used to calibrate)")
    parser.add_argument("--output", type=Path, metavar="DIR",
                        help="output folder (default benchmarks/results/plan-<time>)")
    parser.set_defaults(handler=plan)


def plan(args: argparse.Namespace) -> int:
    """The handler: validate inputs, then plan, predict or validate."""
    from benchmarks.cost.yaml_file import DataFileError
    from models.quality import QualityTableError
    from router.routing.config import RoutingConfigError

    try:
        if args.predict or args.validate:
            return _validation(args)
        if args.traffic is None:
            raise UsageError("give a traffic profile (or --predict / --validate)")
        return _plan(args)
    except (UsageError, DataFileError, QualityTableError, RoutingConfigError, ValueError) as exc:
        print(f"stellwerk plan: {exc}", file=sys.stderr)
        return 2


def load_inputs(args: argparse.Namespace) -> tuple[dict[str, Any], Any, str | None]:
    """(profiles by model, hardware prices, the bench profile's model or None) from the shared options;
    every profile's hardware must have a price."""
    from benchmarks.cost.hardware import load_hardware_prices
    from benchmarks.planner.from_bench import profile_from_bench, read_bench_results
    from benchmarks.planner.profiles import DEFAULT_PROFILES_DIR, load_profiles

    prices = load_hardware_prices(args.hardware_prices)
    for item in args.price:
        hw, _, value = item.partition("=")
        try:
            prices = prices.with_price(hw, float(value))
        except ValueError:
            raise UsageError(f"--price {item}: expected HARDWARE=USD_PER_HOUR") from None
    profiles = load_profiles(args.profile or [DEFAULT_PROFILES_DIR])
    bench_model = None
    if args.from_bench:
        wanted = _numbers(args.bench_concurrency, "--bench-concurrency") if args.bench_concurrency else None
        bench = profile_from_bench(read_bench_results(args.from_bench), model=args.bench_model,
                                   hardware=args.bench_hardware, source=str(args.from_bench),
                                   input_token_weight=args.bench_input_weight, concurrencies=wanted)
        profiles[bench.model] = bench
        bench_model = bench.model
    for profile in profiles.values():
        prices.get(profile.hardware)
    if not 0 < args.utilisation <= 1:
        raise UsageError(f"--utilisation {args.utilisation}: must be in (0, 1]")
    return profiles, prices, bench_model


def _numbers(text: str, option: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"{option} {text}: expected numbers separated by commas") from None
    if any(v <= 0 for v in values):
        raise UsageError(f"{option} {text}: values must be positive")
    return values


def _output_dir(args: argparse.Namespace, kind: str) -> Path:
    out: Path = args.output or RESULTS_ROOT / f"{kind}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _plan(args: argparse.Namespace) -> int:
    from benchmarks.planner.document import plan_document
    from benchmarks.planner.plot import plot_plan
    from benchmarks.planner.report import markdown, money
    from benchmarks.planner.scenarios import Context
    from benchmarks.planner.traffic import load_traffic
    from models.catalogue import load_catalogue
    from models.quality import QualityTable
    from router.routing.config import DEFAULT_ROUTING_CONFIG_PATH, load_routing_config

    traffic = load_traffic(args.traffic)
    profiles, prices, _ = load_inputs(args)
    routing = load_routing_config(args.routing_config or DEFAULT_ROUTING_CONFIG_PATH)
    if args.objective is not None and args.objective not in routing.objectives:
        raise UsageError(f"--objective {args.objective}: known objectives: {', '.join(routing.objectives)}")
    if args.gpu_cap is not None and args.gpu_cap < 0:
        raise UsageError("--gpu-cap must be >= 0")
    ctx = Context(load_catalogue(args.catalogue), QualityTable.load(args.quality), routing,
                  args.objective or routing.default_objective, profiles, prices, args.gpu_cap)
    doc = plan_document(ctx, traffic, utilisation=args.utilisation)
    out = _output_dir(args, "plan")
    (out / "plan.json").write_text(json.dumps(doc, indent=1) + "\n")
    plot_plan(doc, out / "plan.png")
    (out / "plan.md").write_text(markdown(doc))
    p = doc["plan"]
    for m in p["models"]:
        print(f"{m['model']}: {m['replicas']} replica(s) of {m['units_per_replica']} {m['unit']} "
              f"({m['replicas_needed']} needed), {100 * m['share']:.1f} % of requests, "
              f"peak spill {m['peak_spill_rps']:.3g} req/s")
    print(f"monthly: {money(p['total_cost_month'])} (hardware {money(p['hardware_cost_month'])}, "
          f"remote {money(p['remote_cost_month'])}); peak spill {100 * p['peak_spill_share']:.1f} %")
    print(f"report: {out / 'plan.md'}\njson: {out / 'plan.json'}\nplot: {out / 'plan.png'}")
    return 0


def _validation(args: argparse.Namespace) -> int:
    from benchmarks.planner.capacity import predict
    from benchmarks.planner.from_bench import read_bench_results
    from benchmarks.planner.validate import compare, validation_markdown

    profiles, _, bench_model = load_inputs(args)
    model = bench_model or args.bench_model
    if model is None or model not in profiles:
        raise UsageError("--predict/--validate need a profile: --from-bench RESULTS (a calibration run), "
                         "or --bench-model ID naming a loaded profile")
    profile = profiles[model]
    if args.predict:
        for c in _numbers(args.predict, "--predict"):
            print(json.dumps({"model": model, **vars(predict(profile, c))}))
        return 0
    wanted = (_numbers(args.validate_concurrency, "--validate-concurrency")
              if args.validate_concurrency else None)
    result = compare(profile, read_bench_results(args.validate), wanted)
    out = _output_dir(args, "plan-validate")
    (out / "validation.json").write_text(json.dumps(
        {"calibration": str(args.from_bench), "measured": str(args.validate), **result}, indent=1) + "\n")
    (out / "validation.md").write_text(validation_markdown(result, str(args.validate)))
    print(validation_markdown(result, str(args.validate)), end="")
    print(f"report: {out / 'validation.md'}")
    return 0
