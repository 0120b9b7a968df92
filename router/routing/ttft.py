"""Predicted time to first token per model, from its live queue and measured service times.

The model is deliberately simple, so a decision can be explained in one line:

    predicted TTFT = base + queued * per_request

`queued` is how many requests the model is already serving or holding (see `load.py`). `base` is the
TTFT of a request that finds the model idle, `per_request` how much each request already there adds.
Both start from the configured priors and follow measurements: a TTFT measured with `queued <= 1` moves
`base`; one measured with more requests queued moves `per_request` towards (ttft - base) / queued.
Remote models are not queued on our side, so only their `base` is learned.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from router.routing.config import LatencyPriors

__all__ = ["LatencyEstimate", "LatencyModel"]


@dataclass(frozen=True)
class LatencyEstimate:
    base_s: float
    per_request_s: float
    samples: int

    def predict(self, queued: int) -> float:
        return self.base_s + max(queued, 0) * self.per_request_s


class LatencyModel:
    """Per-model TTFT estimates, updated from completed first tokens (thread-safe, O(1) per update)."""

    def __init__(self, priors: LatencyPriors) -> None:
        self._priors = priors
        self._estimates: dict[str, LatencyEstimate] = {}
        self._lock = threading.Lock()

    def set_priors(self, priors: LatencyPriors) -> None:
        """Use new priors for models not measured yet (a reloaded configuration); measured ones keep
        what they learned, and per-model priors that changed replace the learned values."""
        with self._lock:
            changed = {m for m, v in priors.per_model.items() if self._priors.per_model.get(m) != v}
            self._priors = priors
            for model_id in changed:
                self._estimates.pop(model_id, None)

    def estimate(self, model_id: str, *, local: bool) -> LatencyEstimate:
        with self._lock:
            return self._estimates.get(model_id) or self._prior(model_id, local=local)

    def predict(self, model_id: str, queued: int, *, local: bool) -> float:
        return self.estimate(model_id, local=local).predict(queued if local else 0)

    def observe(self, model_id: str, ttft_s: float, queued: int, *, local: bool) -> None:
        """Learn from one measured TTFT of a request that found `queued` requests on the model."""
        if ttft_s < 0:
            return
        with self._lock:
            est = self._estimates.get(model_id) or self._prior(model_id, local=local)
            rate = self._priors.learning_rate
            base, per = est.base_s, est.per_request_s
            if not local or queued <= 1:
                base += rate * (ttft_s - base)
            else:
                per += rate * (max(ttft_s - base, 0.0) / queued - per)
            self._estimates[model_id] = LatencyEstimate(base, per, est.samples + 1)

    def _prior(self, model_id: str, *, local: bool) -> LatencyEstimate:
        p = self._priors
        if model_id in p.per_model:
            base, per = p.per_model[model_id]
            return LatencyEstimate(base, per, 0)
        if local:
            return LatencyEstimate(p.local_base_ttft_s, p.local_per_request_s, 0)
        return LatencyEstimate(p.remote_base_ttft_s, 0.0, 0)
