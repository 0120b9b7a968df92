"""PGR, APGR, CPT and the 95 %-of-strong-quality share on hand-computed data, and the baselines."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.eval.curve import (
    Outcomes,
    Point,
    expected_random,
    oracle_curve,
    routellm_protocol_curve,
    router_curve,
    simulated_random,
)
from benchmarks.eval.metrics import apgr, cpt, pgr, share_for_quality_fraction, share_to_reach
from tests.unit.test_eval_support import eight_outcomes


def test_router_curve_is_the_exact_threshold_sweep() -> None:
    p, outcomes = eight_outcomes()
    curve = router_curve(p, outcomes)
    assert [pt.strong_share for pt in curve] == [k / 8 for k in range(9)]
    assert [pt.quality for pt in curve] == pytest.approx([.5, .625, .75, .625, .625, .75, .75, .75, .75])
    # threshold t sends p_weak_ok < t strong: the first point (t = min) sends nothing
    assert curve[0].threshold == pytest.approx(0.1) and curve[3].threshold == pytest.approx(0.4)
    assert curve[-1].threshold is not None and curve[-1].threshold > 0.8


def test_pgr_apgr_cpt_by_hand() -> None:
    p, outcomes = eight_outcomes()
    curve = router_curve(p, outcomes)
    assert pgr(0.625, 0.5, 0.75) == pytest.approx(0.5)
    # trapezoids of PGR 0 .5 1 .5 .5 1 1 1 1 with width 1/8: (0.25+.75+.75+.5+.75+1+1+1)/8
    assert apgr(curve, 0.5, 0.75) == pytest.approx(0.75)
    assert cpt(curve, 0.5, 0.75, 50) == pytest.approx(0.125)
    # PGR .5 at 1/8 and 1 at 2/8: 0.8 is reached at 1/8 + 0.3/0.5 * 1/8
    assert cpt(curve, 0.5, 0.75, 80) == pytest.approx(0.2)
    # 95 % of 0.75 = 0.7125, between quality .625 (1/8) and .75 (2/8)
    assert share_for_quality_fraction(curve, 0.75, 0.95) == pytest.approx(0.2125)


def test_cpt_is_not_the_95_percent_quality_share() -> None:
    _, outcomes = eight_outcomes()
    curve = expected_random(outcomes, [0.0, 1.0])
    assert cpt(curve, 0.5, 0.75, 95) == pytest.approx(0.95)
    assert share_for_quality_fraction(curve, 0.75, 0.95) == pytest.approx(0.85)  # (0.7125-.5)/.25


def test_random_expected_baseline() -> None:
    _, outcomes = eight_outcomes()
    curve = expected_random(outcomes, [0.0, 1.0])
    assert apgr(curve, 0.5, 0.75) == pytest.approx(0.5)
    assert cpt(curve, 0.5, 0.75, 50) == pytest.approx(0.5)
    assert cpt(curve, 0.5, 0.75, 80) == pytest.approx(0.8)


def test_oracle_sends_the_largest_gains_first() -> None:
    _, outcomes = eight_outcomes()
    curve = oracle_curve(outcomes)
    # gains sorted: +1 +1 +1 0 0 0 0 -1 -> PGR 0 .5 1 1.5 1.5 1.5 1.5 1.5 1
    assert apgr(curve, 0.5, 0.75) == pytest.approx(9.5 / 8)
    assert cpt(curve, 0.5, 0.75, 100) == pytest.approx(0.25)


def test_simulated_random_is_seeded_and_close_to_expected() -> None:
    _, outcomes = eight_outcomes()
    first = simulated_random(outcomes, sims=4000, seed=7)
    assert first == simulated_random(outcomes, sims=4000, seed=7)
    assert first != simulated_random(outcomes, sims=4000, seed=8)
    assert first[0].quality == pytest.approx(0.5) and first[-1].quality == pytest.approx(0.75)
    assert apgr(first, 0.5, 0.75) == pytest.approx(0.5, abs=0.02)


def test_ties_move_together() -> None:
    outcomes = Outcomes(np.array([1.0, 1.0, 0.0]), np.array([0.0, 0.0, 0.0]))
    curve = router_curve(np.array([0.4, 0.4, 0.4]), outcomes)
    assert [pt.strong_share for pt in curve] == [0.0, 1.0]
    assert apgr(curve, 0.0, 2 / 3) == pytest.approx(0.5)


def test_routellm_protocol_uses_quantile_bins() -> None:
    outcomes = Outcomes(np.array([1.0, 1.0, 0.0, 1.0]), np.array([0.0, 0.0, 0.0, 1.0]))
    curve = routellm_protocol_curve(np.array([0.1, 0.2, 0.3, 0.4]), outcomes, bins=2)
    assert [pt.strong_share for pt in curve] == [0.0, 0.5, 1.0]
    assert [pt.quality for pt in curve] == pytest.approx([0.25, 0.75, 0.75])


def test_cpt_matches_routellm_interpolation_on_a_monotone_curve() -> None:
    # RouteLLM's evaluate.py: np.interp(target quality, accuracies, strong percentages)
    shares = [0.0, 0.1, 0.3, 0.6, 1.0]
    quality = [0.60, 0.66, 0.72, 0.78, 0.80]
    curve = [Point(s, q) for s, q in zip(shares, quality, strict=True)]
    for pct in (20, 50, 80):
        expected = np.interp(pct / 100 * 0.2 + 0.6, quality, shares)
        assert cpt(curve, 0.6, 0.8, pct) == pytest.approx(expected)


def test_undefined_without_a_positive_gap() -> None:
    outcomes = Outcomes(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    curve = router_curve(np.array([0.2, 0.8]), outcomes)
    assert pgr(0.5, 0.5, 0.5) is None
    assert apgr(curve, 0.5, 0.5) is None and cpt(curve, 0.5, 0.5, 50) is None


def test_share_to_reach_edges() -> None:
    assert share_to_reach([0.0, 1.0], [0.7, 0.8], 0.6) == 0.0
    assert share_to_reach([0.0, 1.0], [0.5, 0.8], 0.9) is None
    with pytest.raises(ValueError, match="0 % to 100 %"):
        apgr([Point(0.2, 0.5), Point(1.0, 0.7)], 0.5, 0.7)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate() -> None:
    from benchmarks.eval.bootstrap import bootstrap_ci

    rng = np.random.default_rng(1)
    p = rng.random(300)
    strong = (rng.random(300) < 0.8).astype(float)
    weak = np.where(p > 0.5, strong, (rng.random(300) < 0.4).astype(float))  # high p_weak_ok: weak is fine
    outcomes = Outcomes(strong, weak)
    ci = bootstrap_ci(p, outcomes, reps=100, seed=3)
    assert ci == bootstrap_ci(p, outcomes, reps=100, seed=3)
    estimate = apgr(router_curve(p, outcomes), outcomes.weak_quality, outcomes.strong_quality)
    assert estimate is not None and ci["apgr"][0] < estimate < ci["apgr"][1]
    assert ci["apgr"][0] > 0.5  # this router is informative
    assert ci["cpt_50"][0] <= ci["cpt_50"][1] and ci["undefined_resamples"] == 0
