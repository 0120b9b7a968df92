"""Fits the IRT quality model (training time only; numpy + scipy's L-BFGS).

    P(y = 1 | prompt p, model m) = sigmoid(a_p * (W_p . theta_m - d_p)),
    d_p = x_p . w_d + b_d,  log a_p = clip(x_p . w_a + b_a),  theta_m = mean_m + delta_m (per category)

x_p is the prompt's MiniLM embedding and W_p its category weights (the category head's probabilities,
tool_use left out; `profile.mixed_ability`). The loss is the mean log-loss over observed outcomes plus
L2 on the heads, on the discrimination bias (fixes the scale: mean log a near 0) and on each model's
per-category deviation from its own mean (so a category with few outcomes falls back to the model's
overall ability), plus optional squared hinges that keep trivial
anchor prompts at most `easy_target` difficult and hard anchor prompts at least `hard_target`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from router.quality.model import LOG_DISCRIMINATION_LIMIT

__all__ = ["Anchors", "FitResult", "Outcomes", "fit_irt", "mixing_weights"]

_log = logging.getLogger(__name__)
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Outcomes:
    """Observed outcomes: prompt index, model index and 0/1 label per observation."""

    prompt: npt.NDArray[np.int64]
    model: npt.NDArray[np.int64]
    label: F64


@dataclass(frozen=True)
class Anchors:
    """Embeddings of unlabelled prompts with a one-sided bound on their difficulty."""

    easy: F64
    hard: F64
    easy_target: float
    hard_target: float
    weight: float


@dataclass(frozen=True)
class FitResult:
    difficulty_w: F64
    difficulty_b: float
    discrimination_w: F64
    discrimination_b: float
    ability: F64          # (M x K)
    loss: float
    info: dict[str, float] = field(default_factory=dict)

    def prompt_params(self, x: F64) -> tuple[F64, F64]:
        d = x @ self.difficulty_w + self.difficulty_b
        la = np.clip(x @ self.discrimination_w + self.discrimination_b,
                     -LOG_DISCRIMINATION_LIMIT, LOG_DISCRIMINATION_LIMIT)
        return np.asarray(d, dtype=np.float64), np.asarray(np.exp(la), dtype=np.float64)


def mixing_weights(category_probs: F64, tool_index: int) -> F64:
    """Category weights as the quality model mixes abilities (tool_use dropped, rows renormalised)."""
    w = np.array(category_probs, dtype=np.float64)
    w[:, tool_index] = 0.0
    return np.asarray(w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12), dtype=np.float64)


@dataclass(frozen=True)
class Penalties:
    """L2 weights. `discrimination_bias` pins the scale: without it the ability and difficulty
    penalties shrink the scale while a(x) grows to compensate, until a(x) hits its clip."""

    heads: float = 1e-4
    deviation: float = 3e-3
    mean: float = 1e-5
    discrimination_bias: float = 1e-2


def fit_irt(x: F64, weights: F64, outcomes: Outcomes, n_models: int, *, anchors: Anchors | None = None,
            penalties: Penalties = Penalties(), init: FitResult | None = None,
            max_iter: int = 400) -> FitResult:
    """Fits all parameters with L-BFGS (deterministic: fixed initialisation, no sampling)."""
    from scipy.optimize import minimize  # type: ignore[import-untyped]

    dim = x.shape[1]
    k = weights.shape[1]
    layout = _Layout(dim, n_models, k)
    start = layout.pack_init(outcomes, n_models) if init is None else layout.pack(init)

    def objective(v: F64) -> tuple[float, F64]:
        return _loss_and_grad(v, layout, x, weights, outcomes, anchors, penalties)

    result = minimize(objective, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iter, "maxcor": 20})
    _log.info("L-BFGS: %d iterations, loss %.4f (%s)", result.nit, result.fun, result.message)
    fitted = layout.unpack(result.x, float(result.fun))
    return fitted


@dataclass(frozen=True)
class _Layout:
    dim: int
    models: int
    k: int

    def sizes(self) -> list[int]:
        return [self.dim, 1, self.dim, 1, self.models, self.models * self.k]

    def split(self, v: F64) -> list[F64]:
        out, at = [], 0
        for s in self.sizes():
            out.append(v[at:at + s])
            at += s
        return out

    def pack_init(self, o: Outcomes, n_models: int) -> F64:
        counts = np.bincount(o.model, minlength=n_models) + 2.0
        acc = (np.bincount(o.model, weights=o.label, minlength=n_models) + 1.0) / counts
        mean = np.log(acc / (1 - acc))
        return np.concatenate([np.zeros(self.dim), [0.0], np.zeros(self.dim), [0.0], mean,
                               np.zeros(self.models * self.k)])

    def pack(self, r: FitResult) -> F64:
        mean = r.ability.mean(axis=1)
        dev = r.ability - mean[:, None]
        return np.concatenate([r.difficulty_w, [r.difficulty_b], r.discrimination_w, [r.discrimination_b],
                               mean, dev.ravel()])

    def unpack(self, v: F64, loss: float) -> FitResult:
        wd, bd, wa, ba, mean, dev = self.split(v)
        ability = mean[:, None] + dev.reshape(self.models, self.k)
        return FitResult(wd.copy(), float(bd[0]), wa.copy(), float(ba[0]), ability, loss)


def _loss_and_grad(v: F64, layout: _Layout, x: F64, weights: F64, o: Outcomes, anchors: Anchors | None,
                   pen: Penalties) -> tuple[float, F64]:
    wd, bd, wa, ba, mean, dev_flat = layout.split(v)
    dev = dev_flat.reshape(layout.models, layout.k)
    theta = mean[:, None] + dev
    d = x @ wd + bd[0]
    la_raw = x @ wa + ba[0]
    la = np.clip(la_raw, -LOG_DISCRIMINATION_LIMIT, LOG_DISCRIMINATION_LIMIT)
    a = np.exp(la)
    t = np.einsum("ik,ik->i", weights[o.prompt], theta[o.model])
    gap = t - d[o.prompt]
    z = a[o.prompt] * gap
    n = len(z)
    loss = float(np.sum(np.logaddexp(0.0, z) - o.label * z)) / n
    g = (1.0 / (1.0 + np.exp(-z)) - o.label) / n
    ga = g * a[o.prompt]
    grad_d = -np.bincount(o.prompt, weights=ga, minlength=len(x))
    free = (la_raw > -LOG_DISCRIMINATION_LIMIT) & (la_raw < LOG_DISCRIMINATION_LIMIT)
    grad_la = np.bincount(o.prompt, weights=g * z, minlength=len(x)) * free
    grad_theta = np.zeros_like(theta)
    np.add.at(grad_theta, o.model, weights[o.prompt] * ga[:, None])
    if anchors is not None:
        loss, extra_w, extra_b = _anchor_terms(loss, wd, bd[0], anchors)
    else:
        extra_w, extra_b = np.zeros_like(wd), 0.0
    loss += 0.5 * pen.heads * (float(wd @ wd) + float(wa @ wa))
    loss += 0.5 * pen.discrimination_bias * float(ba[0]) ** 2
    loss += 0.5 * pen.deviation * float(np.sum(dev * dev)) + 0.5 * pen.mean * float(mean @ mean)
    grad = np.concatenate([
        x.T @ grad_d + pen.heads * wd + extra_w, [grad_d.sum() + extra_b],
        x.T @ grad_la + pen.heads * wa, [grad_la.sum() + pen.discrimination_bias * ba[0]],
        grad_theta.sum(axis=1) + pen.mean * mean,
        (grad_theta + pen.deviation * dev).ravel()])
    return loss, grad


def _anchor_terms(loss: float, wd: F64, bd: float, anchors: Anchors) -> tuple[float, F64, float]:
    easy = np.maximum(anchors.easy @ wd + bd - anchors.easy_target, 0.0)
    hard = np.maximum(anchors.hard_target - (anchors.hard @ wd + bd), 0.0)
    loss += 0.5 * anchors.weight * (float(np.mean(easy ** 2)) + float(np.mean(hard ** 2)))
    g_easy = anchors.weight * easy / len(easy)
    g_hard = -anchors.weight * hard / len(hard)
    grad_w = anchors.easy.T @ g_easy + anchors.hard.T @ g_hard
    return loss, grad_w, float(g_easy.sum() + g_hard.sum())
