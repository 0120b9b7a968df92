"""`stellwerk eval --decision`: the router's full decision scored on rows with many models' scores.

The rows are routed by the same `RoutingService` the server runs (the shipped routing configuration,
candidate filtering, the quality predictor, cost estimates, the objective), once per cost weight in a
sweep; each row's realised quality is the chosen model's score and its cost the decision's own
estimate for that model. That gives the router's quality-cost curve, scored against:

- every single model (always that model), and their upper envelope: the best single model at equal
  cost, where a random mix of two models reaches any point between them ("random at equal cost");
- random routing among the candidates (uniform);
- the oracle: per row, the best score at the lowest cost (and the oracle under each cost weight).

The router *beats* the single models where its point lies above that envelope: more quality at equal
cost, or less cost at equal quality. Both margins are reported per sweep point.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.eval.dataset import EvalDataError, Row
from benchmarks.eval.prices import Price
from cluster.telemetry import TelemetrySnapshot
from models.catalogue import Catalogue, ModelEntry
from router.features.request_features import RequestFeatures
from router.hot_reload import ConfigHolder
from router.metrics import RouterMetrics
from router.routing.config import RoutingConfig
from router.routing.hints import RoutingHints
from router.routing.service import QualityPredictor, RoutingService
from router.schemas import ChatCompletionRequest

__all__ = ["DEFAULT_COST_WEIGHTS", "DecisionEval", "candidate_entries", "common_models", "evaluate_decision"]

DEFAULT_COST_WEIGHTS = (0.0, 1.0, 3.0, 10.0, 20.0, 30.0, 50.0, 100.0, 200.0, 300.0, 500.0, 1000.0,
                        3000.0, 10000.0, 1e5)


@dataclass(frozen=True)
class DecisionEval:
    """What to evaluate: rows, the candidate models, the objective and the cost weights to sweep."""

    rows: Sequence[Row]
    entries: Sequence[ModelEntry]
    config: RoutingConfig
    objective: str | None = None
    cost_weights: Sequence[float] = DEFAULT_COST_WEIGHTS


def common_models(rows: Sequence[Row], wanted: Sequence[str] | None = None) -> list[str]:
    """The models every row scores (or `wanted`, checked against every row)."""
    if wanted:
        for model in wanted:
            missing = next((r for r in rows if model not in r.scores), None)
            if missing is not None:
                raise EvalDataError(f"row {missing.id!r} has no score for {model!r}")
        return list(wanted)
    common = set(rows[0].scores)
    for row in rows[1:]:
        common &= set(row.scores)
    if len(common) < 2:
        raise EvalDataError("fewer than two models are scored on every row: name candidates with --models")
    return sorted(common)


def candidate_entries(models: Sequence[str], catalogue: Catalogue,
                      prices: dict[str, Price]) -> list[ModelEntry]:
    """Catalogue entries for catalogue models; priced remote stand-ins for the others."""
    entries, unpriced = [], []
    for model in models:
        entry = catalogue.get(model)
        if entry is not None:
            entries.append(entry)
        elif model in prices:
            entries.append(_stand_in(model, prices[model]))
        else:
            unpriced.append(model)
    if unpriced:
        raise EvalDataError(f"no price for {unpriced}: give a prices file with --prices "
                            "(YAML or a Markdown table like the routing data's MODELS.md)")
    return entries


def _stand_in(model: str, price: Price) -> ModelEntry:
    return ModelEntry.model_validate({
        "id": model, "kind": "remote", "provider": "eval", "license": "n/a",
        "remote": {"type": "openai-compatible", "base_url": "http://127.0.0.1:9", "model": model,
                   "api_key_env": "STELLWERK_EVAL_UNUSED"},
        "capabilities": {"context_length": 1_000_000},
        "pricing": {"input_per_mtok": price.input_per_mtok, "output_per_mtok": price.output_per_mtok},
        "residency": {"jurisdiction": "US", "leaves_premises": True},
    })


class _CachedFeatures:
    """A `FeatureSource` over features computed once per prompt (in batches, before routing)."""

    def __init__(self, by_prompt: dict[str, RequestFeatures]) -> None:
        self._by_prompt = by_prompt

    def extract(self, request: ChatCompletionRequest) -> RequestFeatures:
        return self._by_prompt[request.messages[-1].text()]


def evaluate_decision(spec: DecisionEval, features: dict[str, RequestFeatures],
                      predictor: QualityPredictor,
                      progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Routes every row at every cost weight and scores the curve (see the module docstring)."""
    return asyncio.run(_evaluate(spec, features, predictor, progress))


async def _evaluate(spec: DecisionEval, features: dict[str, RequestFeatures], predictor: QualityPredictor,
                    progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    entries = list(spec.entries)
    service = RoutingService(ConfigHolder.fixed(spec.config, Path("eval")), _CachedFeatures(features),
                             predictor, lambda: entries, lambda: TelemetrySnapshot(), RouterMetrics())
    requests = [ChatCompletionRequest.model_validate(
        {"model": "auto", "messages": [{"role": "user", "content": r.prompt}]}) for r in spec.rows]
    ids = [e.id for e in entries]
    costs: list[dict[str, float]] = []
    sweep = []
    total = len(spec.cost_weights) * len(requests)
    for k, weight in enumerate(spec.cost_weights):
        chosen = []
        for i, request in enumerate(requests):
            decision = await service.decide(request, spec.objective, request_id=f"eval-{i}", dry_run=True,
                                            hints=RoutingHints(cost_weight=weight))
            if k == 0:
                costs.append({c.model: c.est_cost for c in decision.candidates if c.model in ids})
            chosen.append(decision.chosen.id)
            if progress is not None:
                progress(k * len(requests) + i + 1, total)
        sweep.append(_point(weight, chosen, spec.rows, costs))
    singles = {m: _mean_point([m] * len(spec.rows), spec.rows, costs) for m in ids}
    return _summary(spec, sweep, singles, costs)


def _mean_point(chosen: Sequence[str], rows: Sequence[Row],
                costs: Sequence[dict[str, float]]) -> dict[str, float]:
    n = len(rows)
    return {"quality": sum(r.scores[m] for r, m in zip(rows, chosen, strict=True)) / n,
            "cost": sum(c[m] for c, m in zip(costs, chosen, strict=True)) / n}


def _point(weight: float, chosen: Sequence[str], rows: Sequence[Row],
           costs: Sequence[dict[str, float]]) -> dict[str, Any]:
    shares = Counter(chosen)
    return {"cost_weight": weight, **_mean_point(chosen, rows, costs),
            "shares": {m: n / len(chosen) for m, n in shares.most_common()}}


def _summary(spec: DecisionEval, sweep: list[dict[str, Any]], singles: dict[str, dict[str, float]],
             costs: Sequence[dict[str, float]]) -> dict[str, Any]:
    hull = _upper_envelope([(p["cost"], p["quality"]) for p in singles.values()])
    for point in sweep:
        point["envelope_quality"] = _quality_at(hull, point["cost"])
        point["quality_gain"] = point["quality"] - point["envelope_quality"]
        point["envelope_cost"] = _cost_at(hull, point["quality"])
        point["cost_saving"] = (None if point["envelope_cost"] is None or point["envelope_cost"] <= 0
                                else 1.0 - point["cost"] / point["envelope_cost"])
    best = max(singles, key=lambda m: (singles[m]["quality"], -singles[m]["cost"]))
    rows = spec.rows
    oracle = [_oracle_choice(r, c) for r, c in zip(rows, costs, strict=True)]
    uniform = {"quality": sum(p["quality"] for p in singles.values()) / len(singles),
               "cost": sum(p["cost"] for p in singles.values()) / len(singles)}
    default_weight = _default_weight(spec)
    return {
        "rows": len(rows), "models": sorted(singles),
        "objective": spec.objective or spec.config.default_objective,
        "default_cost_weight": default_weight,
        "sweep": sweep, "single_models": singles, "envelope": hull,
        "best_single_model": {"model": best, **singles[best]},
        "random": uniform, "oracle": _mean_point(oracle, rows, costs),
        "beats_envelope": any(p["quality_gain"] > 0.005 for p in sweep),
        "at_best_single_quality": _cheapest_reaching(sweep, singles[best]["quality"]),
    }


def _oracle_choice(row: Row, costs: dict[str, float]) -> str:
    """The best-scoring candidate for the row, the cheapest among equals."""
    return min(costs, key=lambda m: (-row.scores[m], costs[m]))


def _default_weight(spec: DecisionEval) -> float | None:
    _, objective = spec.config.objective(spec.objective)
    return getattr(objective, "cost_weight", None)


def _cheapest_reaching(sweep: Sequence[dict[str, Any]], quality: float) -> dict[str, Any] | None:
    reaching = [p for p in sweep if p["quality"] >= quality - 1e-9]
    return min(reaching, key=lambda p: p["cost"]) if reaching else None


def _upper_envelope(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The upper concave envelope of (cost, quality) points, cost ascending, quality non-decreasing."""
    best_at: dict[float, float] = {}
    for cost, quality in points:  # models at the same cost: only the better one is on the envelope
        best_at[cost] = max(quality, best_at.get(cost, -math.inf))
    pts = sorted(best_at.items())
    hull: list[tuple[float, float]] = []
    for p in pts:
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    best_q, out = -math.inf, []
    for c, q in hull:
        if q > best_q:
            out.append((c, q))
            best_q = q
    return out


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _quality_at(hull: Sequence[tuple[float, float]], cost: float) -> float:
    """The envelope's quality at `cost` (flat beyond its ends)."""
    if cost <= hull[0][0]:
        return hull[0][1]
    for (c0, q0), (c1, q1) in itertools.pairwise(hull):
        if cost <= c1:
            return q0 + (q1 - q0) * (cost - c0) / (c1 - c0)
    return hull[-1][1]


def _cost_at(hull: Sequence[tuple[float, float]], quality: float) -> float | None:
    """The envelope's cost to reach `quality` (None above its best)."""
    if quality <= hull[0][1]:
        return hull[0][0]
    for (c0, q0), (c1, q1) in itertools.pairwise(hull):
        if quality <= q1:
            return c0 + (c1 - c0) * (quality - q0) / (q1 - q0)
    return None
