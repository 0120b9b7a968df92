"""`stellwerk eval --decision`: the router's full decision over rows with many models' scores.

Heavy imports (the embedder, numpy, matplotlib) stay inside the handler so `stellwerk --help` is fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.eval.dataset import Row
    from models.catalogue import ModelEntry
    from router.features.request_features import RequestFeatures
    from router.routing.service import QualityPredictor

__all__ = ["add_arguments", "handle_decision"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the decision evaluation (they apply with --decision)."""
    group = parser.add_argument_group("full decision (--decision)")
    group.add_argument("--decision", action="store_true",
                       help="score the router's full decision (the RoutingService the server runs) over "
                            "every model scored on all rows: quality-cost curve over a cost-weight sweep "
                            "against every single model, their envelope, random and the oracle")
    group.add_argument("--models", metavar="LIST",
                       help="comma-separated candidate models (default: those scored on every row)")
    group.add_argument("--prices", type=Path, metavar="FILE",
                       help="prices of models that are not in the catalogue: YAML or a Markdown table "
                            "with columns model, $/1M in, $/1M out (e.g. the routing data's MODELS.md)")
    group.add_argument("--cost-weights", metavar="LIST",
                       help="comma-separated cost weights to sweep (quality points per USD)")
    group.add_argument("--objective", metavar="NAME",
                       help="routing objective (default: the configuration's default)")
    group.add_argument("--held-out", action="store_true",
                       help="keep only the rows of the held-out split the router's heads never saw")
    group.add_argument("--classifier", choices=("minilm", "static"), default="minilm",
                       help="request classifier and its quality model (default minilm)")
    group.add_argument("--source", metavar="NAME",
                       help="keep only rows whose 'source' field is NAME (multi-model outcome files)")


def handle_decision(args: argparse.Namespace, *, predictor: QualityPredictor | None = None,
                    features: dict[str, RequestFeatures] | None = None) -> int:
    """Runs the decision evaluation; tests inject the predictor and the features."""
    from benchmarks.eval.dataset import EvalDataError, load_rows
    from benchmarks.eval.decision_eval import (
        DEFAULT_COST_WEIGHTS,
        DecisionEval,
        candidate_entries,
        common_models,
    )
    from benchmarks.eval.decision_report import write_decision_outputs
    from benchmarks.eval.prices import load_prices
    from models.catalogue import load_catalogue
    from router.routing.config import DEFAULT_ROUTING_CONFIG_PATH, load_routing_config

    try:
        if args.data is None:
            raise EvalDataError("--decision needs --data FILE (JSONL, optionally .gz)")
        rows = _select(load_rows(args.data), args)
        models = common_models(rows, _split(args.models))
        prices = load_prices(args.prices) if args.prices else {}
        if not args.models:  # every commonly scored model: leave out those without any price, and say so
            catalogue_ids = {e.id for e in load_catalogue().models}
            unpriced = [m for m in models if m not in prices and m not in catalogue_ids]
            if unpriced:
                print(f"stellwerk eval: left out (no price): {', '.join(unpriced)}", file=sys.stderr)
                models = [m for m in models if m not in unpriced]
        entries = candidate_entries(models, load_catalogue(), prices)
        config = load_routing_config(args.routing_config or DEFAULT_ROUTING_CONFIG_PATH)
        weights = tuple(float(w) for w in _split(args.cost_weights)) or DEFAULT_COST_WEIGHTS
        spec = DecisionEval(rows, entries, config, args.objective, weights)
        predictor = predictor or _predictor(entries, args.classifier)
    except (EvalDataError, FileNotFoundError, ValueError) as exc:
        print(f"stellwerk eval: {exc}", file=sys.stderr)
        return 2
    from benchmarks.eval.decision_eval import evaluate_decision

    result = evaluate_decision(spec, features or _features(rows, args.classifier), predictor,
                               _progress(len(weights) * len(rows)))
    out = args.out or _default_out()
    paths = write_decision_outputs(result, out)
    print(paths["markdown"].read_text())
    print(f"wrote {paths['markdown']}, {paths['json']} and {paths['plot']}")
    return 0


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _select(rows: list[Row], args: argparse.Namespace) -> list[Row]:
    from benchmarks.eval.dataset import EvalDataError
    from router.features.split import is_held_out

    if args.held_out:
        rows = [r for r in rows if is_held_out(r.prompt)]
    if args.source:
        rows = [r for r in rows if r.source == args.source]
    if not rows:
        raise EvalDataError("no rows left after --held-out/--source")
    return rows


def _features(rows: list[Row], classifier: str) -> dict[str, RequestFeatures]:
    """Each prompt's features from the packaged classifier, embedded in batches with a progress bar."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    from router.features.classifiers import load_classifier
    from router.schemas import ChatCompletionRequest

    extractor = load_classifier(classifier)
    prompts = list(dict.fromkeys(r.prompt for r in rows))
    out: dict[str, RequestFeatures] = {}
    for start in tqdm(range(0, len(prompts), 64), desc="features", unit="batch", file=sys.stderr):
        batch = prompts[start:start + 64]
        requests = [ChatCompletionRequest.model_validate(
            {"model": "auto", "messages": [{"role": "user", "content": p}]}) for p in batch]
        out.update(zip(batch, extractor.extract_many(requests), strict=True))
    return out


def _predictor(entries: list[ModelEntry], classifier: str) -> QualityPredictor:
    """The router's quality model for `entries`: catalogue models from their descriptors, models of the
    training data (e.g. the routing data's 56) from their fitted abilities; no category fallback, so a
    model the quality model cannot describe is reported rather than scored by a table."""
    from benchmarks.eval.dataset import EvalDataError
    from models.quality import QualityTable
    from router.features.classifiers import classifier as named_classifier
    from router.quality.model import QualityModel
    from router.quality.predictor import QualityPredictor as PromptQuality
    from router.quality.predictor import catalogue_descriptors

    model = QualityModel.load(named_classifier(classifier).quality_artifacts)
    descriptors = catalogue_descriptors(model, entries, QualityTable.load())
    for entry in entries:
        if entry.id not in descriptors and entry.id in model.train_models:
            descriptors[entry.id] = model.training_descriptor(entry.id)
    unknown = sorted(e.id for e in entries if e.id not in descriptors)
    if unknown:
        raise EvalDataError(f"the quality model cannot describe {unknown} (no quality-table row and not in "
                            "its training data)")
    return PromptQuality(model, descriptors)


def _progress(total: int) -> Callable[[int, int], None]:
    from tqdm import tqdm

    bar = tqdm(total=total, desc="decisions", unit="req", file=sys.stderr, mininterval=1.0)

    def update(done: int, _: int) -> None:
        bar.update(done - bar.n)
        if done == total:
            bar.close()

    return update


def _default_out() -> Path:
    import datetime as dt

    import benchmarks

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return Path(benchmarks.__file__).resolve().parent / "results" / f"decision-{stamp}"
