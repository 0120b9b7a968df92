"""Held-out metrics and the routing check for the quality model (training time; numpy only).

- `calibration`: ROC AUC, Brier score, expected calibration error (10 equal-width bins), base rate
  and mean prediction of one model's predictions.
- `routing_check`: on prompts where every model of a pool has an outcome, pick per prompt the model
  maximising P - lambda * estimated cost, and compare accuracy and cost with every single model and
  the oracle (the cheapest model that got it right, if any did).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from router.features.metrics import roc_auc

__all__ = ["CostModel", "calibration", "routing_check"]

F64 = npt.NDArray[np.float64]
_BINS: Final = 10


def calibration(y: F64, p: F64) -> dict[str, float]:
    edges = np.linspace(0.0, 1.0, _BINS + 1)
    bins = np.clip(np.digitize(p, edges) - 1, 0, _BINS - 1)
    ece = sum(abs(float(np.mean(p[bins == b])) - float(np.mean(y[bins == b]))) * int(np.sum(bins == b))
              for b in range(_BINS) if np.any(bins == b)) / max(len(y), 1)
    return {"n": len(y), "auc": _r(roc_auc(y.astype(bool), p.astype(np.float32))),
            "brier": _r(np.mean((p - y) ** 2)), "ece": _r(ece), "base_rate": _r(np.mean(y)),
            "mean_pred": _r(np.mean(p))}


@dataclass(frozen=True)
class CostModel:
    """USD per prompt: prompt chars / 4 tokens in, `output_tokens` out (x4 for reasoning models)."""

    output_tokens: int = 300
    reasoning_factor: float = 4.0

    def cost(self, prompt_chars: F64, price_in: float, price_out: float, reasoning: bool) -> F64:
        out = self.output_tokens * (self.reasoning_factor if reasoning else 1.0)
        return np.asarray((prompt_chars / 4.0 * price_in + out * price_out) / 1e6, dtype=np.float64)


def routing_check(y: F64, p: F64, cost: F64, names: Sequence[str],
                  lambdas: Sequence[float]) -> dict[str, Any]:
    """y, p, cost: (n prompts x m models) outcomes, predictions and USD costs."""
    rows = np.arange(len(y))
    single_acc, single_usd = y.mean(axis=0), 1000 * cost.mean(axis=0)
    singles = {n: {"accuracy": _r(single_acc[j]), "usd_per_1k": _r(single_usd[j])}
               for j, n in enumerate(names)}
    router = []
    for lam in lambdas:
        pick = np.argmax(p - lam * cost, axis=1)
        acc, usd = float(np.mean(y[rows, pick])), float(1000 * np.mean(cost[rows, pick]))
        # NOTE: compare unrounded costs: a single model equal to the router's choice must count.
        cheaper = single_acc[single_usd <= usd * (1 + 1e-9)]
        best = float(cheaper.max()) if len(cheaper) else float("nan")
        shares = np.bincount(pick, minlength=len(names)) / len(pick)
        top = sorted(zip(names, shares, strict=True), key=lambda t: -t[1])[:3]
        router.append({"lambda": lam, "accuracy": _r(acc), "usd_per_1k": _r(usd),
                       "best_single_at_or_below_cost": _r(best),
                       "top_picks": {n: _r(s) for n, s in top if s > 0}})
    any_right = y.max(axis=1) > 0
    masked = np.where(y > 0, cost, np.inf)
    cheapest_right = np.where(any_right, masked.min(axis=1), cost.min(axis=1))
    oracle = {"accuracy": _r(np.mean(any_right)), "usd_per_1k": _r(1000 * np.mean(cheapest_right))}
    return {"n_prompts": len(y), "models": list(names), "single": singles, "router": router, "oracle": oracle}


def _r(value: Any) -> float:
    return round(float(value), 4)
