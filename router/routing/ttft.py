"""Predicted time to first token per model, from its live queue, the prompt's length and measured TTFTs.

The model is deliberately simple, so a decision can be explained in one line:

    predicted TTFT = base + queued * per_request + prompt_tokens * per_prompt_token

`queued` is how many requests the model is already serving or holding (see `load.py`). `base` is the
TTFT of a short request that finds the model idle, `per_request` how much each request already there
adds, `per_prompt_token` what each prompt token adds (the prefill). All start from the configured priors
and follow measurements: a TTFT measured with `queued <= 1` moves `base` and `per_prompt_token` (one
normalised least-mean-squares step on (1, prompt_tokens / 1000), so a long prompt's prefill moves the
per-token cost, not the idle TTFT of every short request after it); one measured with more requests
queued moves `per_request` towards (ttft - base - prefill) / queued. The per-token time is learned only
from requests that found the model idle (behind a queue, waiting and prefill cannot be told apart), so
a model that is never idle keeps its prior there, and its long prompts' prefill counts as queueing.
Remote models are not queued on our side, so only their `base` and `per_prompt_token` are learned.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from router.routing.config import LatencyPriors

__all__ = ["LatencyEstimate", "LatencyModel"]

# Prompt tokens are scaled by this in the learning step, so both of its inputs are of order one.
TOKEN_SCALE = 1000.0


@dataclass(frozen=True)
class LatencyEstimate:
    base_s: float
    per_request_s: float
    samples: int
    per_prompt_token_s: float = 0.0

    def predict(self, queued: int, prompt_tokens: int = 0) -> float:
        return (self.base_s + max(queued, 0) * self.per_request_s
                + max(prompt_tokens, 0) * self.per_prompt_token_s)


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

    def predict(self, model_id: str, queued: int, *, local: bool, prompt_tokens: int = 0) -> float:
        return self.estimate(model_id, local=local).predict(queued if local else 0, prompt_tokens)

    def observe(self, model_id: str, ttft_s: float, queued: int, *, local: bool,
                prompt_tokens: int = 0) -> None:
        """Learn from one measured TTFT of a request of `prompt_tokens` that found `queued` requests on
        the model."""
        if ttft_s < 0:
            return
        tokens = max(prompt_tokens, 0)
        with self._lock:
            est = self._estimates.get(model_id) or self._prior(model_id, local=local)
            rate = self._priors.learning_rate
            base, per, per_token = est.base_s, est.per_request_s, est.per_prompt_token_s
            prefill = tokens * per_token
            if not local or queued <= 1:
                x = tokens / TOKEN_SCALE
                step = rate * (ttft_s - base - prefill) / (1.0 + x * x)
                base = max(base + step, 0.0)
                per_token = max(per_token + step * x / TOKEN_SCALE, 0.0)
            else:
                per += rate * (max(ttft_s - base - prefill, 0.0) / queued - per)
            self._estimates[model_id] = LatencyEstimate(base, per, est.samples + 1, per_token)

    def _prior(self, model_id: str, *, local: bool) -> LatencyEstimate:
        p = self._priors
        if model_id in p.per_model:
            base, per, *token = p.per_model[model_id]
            return LatencyEstimate(base, per, 0, token[0] if token else p.per_prompt_token_s)
        if local:
            return LatencyEstimate(p.local_base_ttft_s, p.local_per_request_s, 0, p.per_prompt_token_s)
        return LatencyEstimate(p.remote_base_ttft_s, 0.0, 0, p.per_prompt_token_s)
