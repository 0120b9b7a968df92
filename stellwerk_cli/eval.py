"""`stellwerk eval`: score the router's routing decisions on a labelled dataset (cost-quality curve).

Heavy imports (numpy, matplotlib, the embedder) stay inside the handler so `stellwerk --help` is fast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.eval.evaluate import Costs
    from benchmarks.eval.run import EvalRequest
    from benchmarks.eval.scorer import RouterScorer, WeakOkScorer

from stellwerk_cli.eval_decision import add_arguments, handle_decision

__all__ = ["add_parser", "handle"]

_DESCRIPTION = """\
Evaluate the router's quality estimator as a strong/weak router: a prompt goes to the strong model
when p_weak_ok < t. Sweeping t draws the cost-quality curve; it is scored with RouteLLM's metrics
(PGR, APGR, CPT(50%), CPT(80%)) and the share of strong calls needed for 95 % of strong-model quality,
against always-strong, always-weak, random and oracle routing. Writes eval.json, eval.md and one PNG
per slice (all rows, then each category). Input format: benchmarks/eval/FORMAT.md."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `stellwerk eval`."""
    parser = sub.add_parser("eval", help="routing-quality evaluation: cost-quality curve, APGR, CPT",
                            description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, metavar="FILE.jsonl",
                        help="one JSON object per line: {\"id\"?, \"prompt\", \"scores\": {model: 0..1}, "
                             "\"category\"?}")
    source.add_argument("--routellm-dir", type=Path, metavar="DIR",
                        help="build rows from RouteLLM's MMLU/GSM8K strong/weak labels in DIR (the shared "
                             "routing data folder): contaminated rows dropped, held-out split only")
    parser.add_argument("--benchmarks", default="mmlu,gsm8k", metavar="LIST",
                        help="with --routellm-dir: comma-separated benchmarks (default mmlu,gsm8k)")
    parser.add_argument("--strong", metavar="ID", help="strong model id in 'scores' (needed unless the "
                        "dataset scores exactly two models; then the better one is strong)")
    parser.add_argument("--weak", metavar="ID", help="weak model id in 'scores'")
    parser.add_argument("--costs", type=_costs, metavar="strong=X,weak=Y",
                        help="cost of one call to each model (any unit, e.g. USD): adds a cost axis")
    parser.add_argument("--threshold", type=_unit_float, metavar="T",
                        help="operating point to report (default: the balanced objective's hard_threshold "
                             "in the routing configuration)")
    parser.add_argument("--routing-config", type=Path, metavar="FILE",
                        help="routing configuration to read the default threshold from (default: shipped)")
    parser.add_argument("--random-sims", type=_non_negative_int, default=20, metavar="N",
                        help="also simulate random routing N times (default 20; 0: expected value only)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the simulated random routing and the bootstrap (default 0)")
    parser.add_argument("--bootstrap", type=_non_negative_int, default=200, metavar="N",
                        help="resample the rows N times for 95 %% intervals of APGR and CPT "
                             "(default 200; 0: off)")
    parser.add_argument("--artifacts", type=Path, metavar="DIR",
                        help="router feature artifacts (default: the packaged router/features/artifacts)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (default benchmarks/results/eval-<UTC time>)")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not read or write the p_weak_ok cache in ~/.cache/stellwerk/eval")
    add_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, scorer: WeakOkScorer | None = None) -> int:
    """Runs the evaluation (with the router's own scorer unless one is injected, as tests do);
    dataset and configuration errors exit 2 with one line on stderr."""
    from benchmarks.eval.dataset import EvalDataError

    if args.decision:
        return handle_decision(args)
    try:
        request = _request(args)
        return _execute(request, scorer or _scorer(args), args.out or _default_out())
    except (EvalDataError, FileNotFoundError) as exc:
        print(f"stellwerk eval: {exc}", file=sys.stderr)
        return 2


def _execute(request: EvalRequest, scorer: WeakOkScorer, out: Path) -> int:
    from benchmarks.eval.report import fmt_ratio, fmt_share, write_outputs
    from benchmarks.eval.run import run_eval

    result = run_eval(request, scorer)
    paths = write_outputs(result, out)
    for item in result["slices"]:
        m = item["metrics"]["router"]
        print(f"{item['name']:>8}  n={item['n']:<5} APGR {fmt_ratio(m['apgr'])}  CPT(50%) "
              f"{fmt_share(m['cpt_50'])}  CPT(80%) {fmt_share(m['cpt_80'])}  95% of strong quality at "
              f"{fmt_share(m['share_for_95pct_strong_quality'])} strong calls")
    print(f"wrote {paths['markdown']}, {paths['json']} and {len(result['slices'])} plot(s) in {out}")
    return 0


def _request(args: argparse.Namespace) -> EvalRequest:
    from benchmarks.eval.run import EvalRequest

    threshold, source = _threshold(args)
    return EvalRequest(
        command=shlex.join(["stellwerk", *sys.argv[1:]]) if sys.argv[1:] else "stellwerk eval",
        data=args.data, routellm_dir=args.routellm_dir,
        benchmarks=tuple(b.strip() for b in args.benchmarks.split(",") if b.strip()),
        strong=args.strong, weak=args.weak, threshold=threshold, threshold_source=source,
        costs=args.costs, random_sims=args.random_sims, seed=args.seed, bootstrap=args.bootstrap,
        scorer_description="p_weak_ok of the router's quality head (router/features, MiniLM + logistic)",
        extra={"artifacts": str(args.artifacts or "router/features/artifacts (packaged)")})


def _threshold(args: argparse.Namespace) -> tuple[float, str]:
    if args.threshold is not None:
        return args.threshold, "--threshold"
    from router.routing.config import DEFAULT_ROUTING_CONFIG_PATH, load_routing_config

    path = args.routing_config or DEFAULT_ROUTING_CONFIG_PATH
    name, objective = load_routing_config(path).objective(None)
    value = getattr(objective, "hard_threshold", None)
    if value is None:
        return 0.65, f"default objective {name!r} has no hard_threshold; 0.65 used"
    return float(value), f"hard_threshold of objective {name!r} in {path.name}"


def _scorer(args: argparse.Namespace) -> RouterScorer:
    from benchmarks.eval.scorer import DEFAULT_CACHE_DIR, RouterScorer

    return RouterScorer(args.artifacts, cache_dir=None if args.no_cache else DEFAULT_CACHE_DIR)


def _default_out() -> Path:
    import benchmarks

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return Path(benchmarks.__file__).resolve().parent / "results" / f"eval-{stamp}"


def _costs(text: str) -> Costs:
    from benchmarks.eval.evaluate import Costs

    values: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in ("strong", "weak") or key in values:
            raise argparse.ArgumentTypeError(f"expected strong=X,weak=Y, got {text!r}")
        try:
            values[key] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{key} cost must be a number, got {value!r}") from None
        if values[key] < 0:
            raise argparse.ArgumentTypeError(f"{key} cost must not be negative")
    if set(values) != {"strong", "weak"}:
        raise argparse.ArgumentTypeError(f"expected both strong=X and weak=Y, got {text!r}")
    return Costs(strong=values["strong"], weak=values["weak"])


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], not {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], not {text}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value
