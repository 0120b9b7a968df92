"""Frontier budgets held online: at most a share of `auto` requests, or a spend per hour, on frontier
models, spent on the prompts where a frontier model gains most.

For each `auto` decision the routing service computes the request's *gain*: the best eligible frontier
candidate's utility minus the best eligible non-frontier candidate's (quality points; +inf when only
frontier models can serve it, -inf when none can). A budget keeps the gains of its last `window`
decisions and admits a frontier choice when its gain is in the top `share` of them (a quantile
threshold), with the target corrected by how far the realised share has drifted from it. Spend works
the same way on gain per unit of cost: the recent decisions' gains are taken best-first until their
cost fills what the hourly rate allows over the window's time span. Because the threshold comes from
recent traffic, it follows a shift in the mix (easy → hard → easy) within one window, and the integral
correction holds the long-run share when the local capacity changes what the requests want.

State is per router process (like spillover hysteresis). Several routers each hold the target for the
traffic they see, so with a load balancer spreading requests evenly the cluster holds it too.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from router.routing.config import FrontierBudgetConfig

__all__ = ["BudgetVerdict", "FrontierBudget"]

_MIN_HISTORY = 10       # decisions before the quantile threshold is trusted
_CORRECTION = 1.0       # proportional correction of the target by the realised share's error
_HORIZON_WINDOWS = 5    # the realised share and spend average over this many windows


@dataclass(frozen=True)
class BudgetVerdict:
    admitted: bool
    note: str


@dataclass(frozen=True)
class _Past:
    at: float
    gain: float
    cost: float


class FrontierBudget:
    """One budget's online controller (thread-safe)."""

    def __init__(self, config: FrontierBudgetConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._past: deque[_Past] = deque(maxlen=config.window)
        self._lock = threading.Lock()
        self._decay = 1.0 - 1.0 / (_HORIZON_WINDOWS * config.window)
        self._weight = 0.0      # decayed count of decisions
        self._frontier = 0.0    # decayed count of frontier decisions
        self._started = clock()
        self._spent: deque[tuple[float, float]] = deque()  # (time, cost) of frontier decisions

    def admits(self, gain: float, cost: float) -> BudgetVerdict:
        """Whether a frontier choice with this gain and estimated cost fits the budget now."""
        with self._lock:
            if self.config.share is not None:
                verdict = self._share_verdict(gain)
                if not verdict.admitted:
                    return verdict
            if self.config.usd_per_hour is not None:
                return self._spend_verdict(gain, cost)
            return BudgetVerdict(True, "within the frontier budget")

    def record(self, gain: float, cost: float, *, frontier: bool) -> None:
        """Count one `auto` decision (frontier or not) into the budget's history."""
        now = self._clock()
        with self._lock:
            self._past.append(_Past(now, gain, cost))
            self._weight = self._weight * self._decay + 1.0
            self._frontier = self._frontier * self._decay + float(frontier)
            if frontier:
                self._spent.append((now, cost))
            horizon = now - self._spend_horizon_s()
            while self._spent and self._spent[0][0] < horizon:
                self._spent.popleft()

    def share(self) -> float | None:
        """The realised frontier share (decayed over a few windows), or None before any decision."""
        with self._lock:
            return self._frontier / self._weight if self._weight else None

    # -- share -----------------------------------------------------------------------------------

    def _share_verdict(self, gain: float) -> BudgetVerdict:
        target = self.config.share
        assert target is not None
        realised = self._frontier / self._weight if self._weight else 0.0
        if len(self._past) < _MIN_HISTORY:
            ok = realised < target or (self._weight == 0 and target > 0)
            return BudgetVerdict(ok, f"frontier share {realised:.1%} vs target {target:.1%} (warming up)")
        effective = min(1.0, max(0.0, target + _CORRECTION * (target - realised)))
        threshold = _upper_quantile([p.gain for p in self._past], effective)
        # Ties at the threshold (e.g. many requests only a frontier model can serve) share what is left.
        ok = effective > 0 and (gain > threshold or (gain == threshold and realised < target))
        return BudgetVerdict(ok, f"gain {_fmt(gain)} {'>=' if ok else '<'} threshold {_fmt(threshold)} "
                                 f"(frontier share {realised:.1%}, target {target:.1%})")

    # -- spend -----------------------------------------------------------------------------------

    def _spend_horizon_s(self) -> float:
        if len(self._past) >= 2:
            return max(1.0, self._past[-1].at - self._past[0].at) * _HORIZON_WINDOWS
        return 3600.0

    def _spend_verdict(self, gain: float, cost: float) -> BudgetVerdict:
        rate = self.config.usd_per_hour
        assert rate is not None
        now = self._clock()
        horizon = self._spend_horizon_s()
        elapsed = max(1e-3, min(horizon, now - self._started))
        spent = sum(c for t, c in self._spent if t >= now - horizon)
        allowed_rate = rate / 3600.0
        if len(self._past) < _MIN_HISTORY:
            ok = spent + cost <= allowed_rate * max(elapsed, 60.0)
            return BudgetVerdict(ok, f"spent {spent:.4f} in {elapsed:.0f} s vs {rate:g}/h (warming up)")
        span = max(1e-3, self._past[-1].at - self._past[0].at)
        # What the window may spend, corrected by the realised rate's error over the horizon.
        window_budget = max(0.0, allowed_rate * span * (2.0 - (spent / elapsed) / allowed_rate))
        threshold = _ratio_threshold(list(self._past), window_budget)
        ratio = gain / max(cost, 1e-12)
        ok = ratio >= threshold
        return BudgetVerdict(ok, f"gain per cost {_fmt(ratio)} {'>=' if ok else '<'} {_fmt(threshold)} "
                                 f"(spend {spent / elapsed * 3600:.3f}/h, budget {rate:g}/h)")


def _upper_quantile(values: list[float], top_share: float) -> float:
    """The smallest value v such that about `top_share` of `values` are >= v (inf for a share of 0)."""
    if top_share <= 0:
        return math.inf
    ordered = sorted(values, reverse=True)
    k = max(1, math.ceil(top_share * len(ordered)))
    return max(ordered[min(k, len(ordered)) - 1], 1e-12)


def _ratio_threshold(past: list[_Past], budget: float) -> float:
    """The gain-per-cost above which the window's frontier-worthy decisions fit `budget`."""
    wanted = sorted((p for p in past if p.gain > 0 and p.cost > 0), key=lambda p: p.gain / p.cost,
                    reverse=True)
    used = 0.0
    for p in wanted:
        used += p.cost
        if used > budget:
            return p.gain / p.cost + 1e-12
    return 1e-12


def _fmt(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else ("inf" if value > 0 else "-inf")
