"""The IRT fit recovers abilities and difficulties from synthetic outcomes; the routing check's sums."""

from __future__ import annotations

import numpy as np

from router.quality.evaluate import calibration, routing_check
from router.quality.fit import Outcomes, fit_irt


def test_fit_recovers_model_order_and_prompt_difficulty() -> None:
    rng = np.random.default_rng(1)
    n, dim, k, models = 400, 8, 3, 5
    x = rng.normal(size=(n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    true_w = rng.normal(size=dim) * 3.0
    difficulty = x @ true_w
    ability = np.linspace(-2.0, 2.0, models)
    weights = np.full((n, k), 1.0 / k)
    p_idx = np.repeat(np.arange(n), models)
    m_idx = np.tile(np.arange(models), n)
    p = 1.0 / (1.0 + np.exp(-(ability[m_idx] - difficulty[p_idx])))
    y = (rng.random(len(p)) < p).astype(float)
    fit = fit_irt(x, weights, Outcomes(p_idx, m_idx, y), models, max_iter=300)
    fitted = fit.ability.mean(axis=1)
    assert np.all(np.diff(fitted) > 0)
    d, _ = fit.prompt_params(x)
    assert np.corrcoef(d, difficulty)[0, 1] > 0.9


def test_routing_check_oracle_and_lambda_zero() -> None:
    y = np.array([[0, 1], [1, 1], [0, 0]], dtype=float)
    p = np.array([[0.2, 0.9], [0.8, 0.85], [0.1, 0.2]])
    cost = np.array([[0.0, 1.0]] * 3)
    result = routing_check(y, p, cost, ["cheap", "dear"], [0.0, 1.0])
    assert result["oracle"]["accuracy"] == round(2 / 3, 4)
    assert result["oracle"]["usd_per_1k"] == round(1000 * 1 / 3, 4)
    assert result["router"][0]["accuracy"] == round(2 / 3, 4)  # lambda 0 picks the higher P: dear, dear, dear
    assert result["router"][1]["usd_per_1k"] == 0.0           # lambda 1 never pays 1.0 for < 1.0 gain
    # A single model costing exactly what the router spent counts as "at or below that cost", also when
    # its rounded cost (666.6667) is above the router's unrounded one (666.666...).
    third = routing_check(y, p, np.array([[0.0, 2.0 / 3.0]] * 3), ["cheap", "dear"], [0.0])
    assert third["router"][0]["best_single_at_or_below_cost"] == round(2 / 3, 4)
    cal = calibration(np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.1, 0.9, 0.8, 0.3]))
    assert cal["auc"] == 1.0 and 0.0 <= cal["ece"] <= 1.0
