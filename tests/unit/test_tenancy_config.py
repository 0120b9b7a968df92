"""The tenants file: validation with located errors, policies as candidate filters, limits, budgets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.catalogue import load_catalogue
from router.errors import QuotaExceeded
from router.tenancy.budget import BudgetTracker
from router.tenancy.config import Budget, Limits, TenantPolicy, TenantsConfigError, parse_tenants_config
from router.tenancy.limits import RateLimiter
from serving.errors import RateLimited

CATALOGUE = load_catalogue()


def test_unknown_fields_and_bad_values_are_named_with_their_line() -> None:
    text = ("tenants:\n  acme:\n    policy:\n      deny_provider: [openai]\n"
            "    limits: {requests_per_minute: 0}\n")
    with pytest.raises(TenantsConfigError) as err:
        parse_tenants_config(text, Path("t.yaml"))
    message = str(err.value)
    assert "t.yaml: 2 error(s) in the tenants file" in message
    assert "line 4: tenants.acme.policy.deny_provider: Extra inputs are not permitted" in message
    assert "tenants.acme.limits.requests_per_minute" in message


@pytest.mark.parametrize(("policy", "model", "expected"), [
    (TenantPolicy(allow_providers=frozenset({"stellwerk-local"})), "openai/gpt-4o-mini",
     "not in the tenant's allowed providers"),
    (TenantPolicy(deny_models=frozenset({"openai/gpt-4.1"})), "openai/gpt-4.1", "denied for the tenant"),
    (TenantPolicy(jurisdictions=frozenset({"on-prem", "EU"})), "anthropic/claude-sonnet-4", "outside"),
    (TenantPolicy(leave_premises=False), "gemini/gemini-2.5-pro", "may not leave the premises"),
    (TenantPolicy(leave_premises=False), "gemma-3-270m", None),
    (TenantPolicy(), "openai/gpt-4.1", None),
])
def test_policy_reasons(policy: TenantPolicy, model: str, expected: str | None) -> None:
    entry = CATALOGUE.get(model)
    assert entry is not None
    reason = policy.reject_reason(entry)
    assert reason is None if expected is None else expected in (reason or "")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_request_window_slides() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    limits = Limits(requests_per_minute=2)
    limiter.admit("t", limits, 1)
    clock.now += 30
    limiter.admit("t", limits, 1)
    with pytest.raises(RateLimited) as err:
        limiter.admit("t", limits, 1)
    assert err.value.retry_after_s == pytest.approx(30)
    clock.now += 30.01
    limiter.admit("t", limits, 1)  # the first one left the window
    limiter.admit("other", limits, 1)  # tenants do not share windows


def test_token_limits_use_settled_usage() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    limits = Limits(tokens_per_minute=1000)
    first = limiter.admit("t", limits, 900)  # the estimate
    with pytest.raises(RateLimited, match="1000 tokens per minute"):
        limiter.admit("t", limits, 200)
    limiter.settle(first, 100)  # it really used 100
    limiter.admit("t", limits, 800)
    with pytest.raises(RateLimited, match="more than tenant 't'"):
        limiter.admit("t", limits, 5000)


class FakeLedger:
    def __init__(self, spent: float) -> None:
        self.value = spent

    def spent(self, tenant: str, since: datetime) -> float:
        return self.value


def test_budgets_count_the_ledger_and_new_spending_and_reset_with_the_day() -> None:
    now = [datetime(2026, 11, 26, 23, 0, tzinfo=UTC)]
    tracker = BudgetTracker(FakeLedger(0.9), lambda: now[0])  # type: ignore[arg-type]
    tracker.refresh(["t"])
    budget = Budget(per_day=1.0, per_month=5.0)
    tracker.check("t", budget)
    tracker.add("t", 0.2)
    with pytest.raises(QuotaExceeded) as err:
        tracker.check("t", budget)
    assert err.value.retry_after_s == pytest.approx(3600)
    assert "resets at 2026-11-27 00:00 UTC" in err.value.message
    now[0] = datetime(2026, 11, 27, 0, 1, tzinfo=UTC)
    tracker.check("t", budget)  # a new day; the month's 1.1 is within 5
