"""The frontier budget controller on replayed traces: it holds its share when the mix shifts and when
local capacity changes what requests want, and it spends the share on the largest gains."""

from __future__ import annotations

import math
import random

import pytest

from router.routing.budget import FrontierBudget
from router.routing.config import FrontierBudgetConfig


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _gain(rng: random.Random, phase: str, local_full: bool) -> float:
    """A request's frontier gain: easy traffic gains little, hard traffic a lot; with the local pool
    full, some requests have no other model in time (gain +inf)."""
    if local_full and rng.random() < 0.15:
        return math.inf
    if rng.random() < 0.1:
        return -math.inf  # no frontier candidate (policy, capability)
    mean = {"easy": 0.02, "hard": 0.25}[phase]
    return rng.gauss(mean, 0.1)


def _replay(budget: FrontierBudget, clock: Clock, phases: list[tuple[str, bool, int]],
            seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    shares = []
    for phase, local_full, n in phases:
        sent = 0
        for _ in range(n):
            clock.now += 0.05
            gain = _gain(rng, phase, local_full)
            wants = gain > 0
            # A refused request goes to a non-frontier model (a full local pool queues it).
            ok = wants and budget.admits(gain, 0.003).admitted
            budget.record(gain, 0.003, frontier=ok)
            sent += ok
        shares.append(sent / n)
    return shares


TRACE = [("easy", False, 3000), ("hard", False, 3000), ("hard", True, 3000), ("easy", True, 3000),
         ("easy", False, 3000)]


@pytest.mark.parametrize("target", [0.1, 0.2, 0.3])
def test_the_share_holds_within_two_points_while_the_mix_and_local_capacity_shift(target: float) -> None:
    clock = Clock()
    budget = FrontierBudget(FrontierBudgetConfig(share=target, window=200), clock)

    shares = _replay(budget, clock, TRACE)

    print(f"target {target:.0%}: per-phase shares", [f"{s:.1%}" for s in shares])
    for (phase, local_full, _), share in zip(TRACE, shares, strict=True):
        assert abs(share - target) <= 0.02, (phase, local_full, share)


def test_without_a_budget_hard_traffic_would_take_far_more_than_the_target() -> None:
    """The control for the test above: every phase wants more than 30 % frontier, the hard ones most."""
    clock = Clock()
    unlimited = FrontierBudget(FrontierBudgetConfig(share=1.0, window=200), clock)

    shares = _replay(unlimited, clock, TRACE)

    assert min(shares) > 0.4 and shares[1] > 0.7 and shares[2] > 0.7


def test_the_budget_goes_to_the_largest_gains() -> None:
    clock = Clock()
    budget = FrontierBudget(FrontierBudgetConfig(share=0.2, window=200), clock)
    rng = random.Random(3)
    admitted, refused = [], []
    for _ in range(4000):
        clock.now += 0.05
        gain = rng.uniform(0.0, 1.0)
        ok = budget.admits(gain, 0.003).admitted
        budget.record(gain, 0.003, frontier=ok)
        (admitted if ok else refused).append(gain)

    assert abs(len(admitted) / 4000 - 0.2) <= 0.02
    assert min(admitted[-500:]) > 0.6  # the top fifth of uniform gains sits above 0.8
    assert sum(admitted) / len(admitted) > sum(refused) / len(refused) + 0.4


def test_a_spend_budget_holds_the_hourly_rate() -> None:
    clock = Clock()
    budget = FrontierBudget(FrontierBudgetConfig(usd_per_hour=3.6, window=200), clock)  # $0.001/s
    rng = random.Random(5)
    spent = 0.0
    for _ in range(20_000):
        clock.now += 0.1               # 10 requests/s, each wanting a $0.002 frontier answer
        gain = rng.uniform(0.0, 0.5)
        ok = budget.admits(gain, 0.002).admitted
        budget.record(gain, 0.002, frontier=ok)
        spent += 0.002 * ok

    rate_per_hour = spent / clock.now * 3600
    assert 3.6 * 0.9 <= rate_per_hour <= 3.6 * 1.1, rate_per_hour


def test_a_zero_share_admits_nothing_after_warm_up() -> None:
    clock = Clock()
    budget = FrontierBudget(FrontierBudgetConfig(share=0.0, window=20), clock)
    verdicts = []
    for _ in range(100):
        ok = budget.admits(0.9, 0.003).admitted
        budget.record(0.9, 0.003, frontier=ok)
        verdicts.append(ok)
    assert not any(verdicts)


def test_a_budget_needs_a_cap() -> None:
    with pytest.raises(ValueError, match="needs `share`"):
        FrontierBudgetConfig()
