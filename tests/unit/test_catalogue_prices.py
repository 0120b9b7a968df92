"""Current frontier prices in the catalogue, their age in `stellwerk models`, and request costs."""

from __future__ import annotations

import argparse
import datetime as dt
import json

import pytest

from models.catalogue import DEFAULT_CATALOGUE_PATH, ModelEntry, load_catalogue
from router.cost import request_cost
from serving.engine import Usage
from stellwerk_cli import commands
from stellwerk_cli.prices import price_line, stale_warning

TODAY = dt.date(2026, 12, 3)


def _entry(pricing: dict[str, object]) -> ModelEntry:
    return ModelEntry.model_validate({
        "id": "p/m", "kind": "remote", "provider": "p", "license": "t",
        "remote": {"type": "openai", "base_url": "http://x", "model": "m", "api_key_env": "K"},
        "capabilities": {"context_length": 1000}, "pricing": pricing,
        "residency": {"jurisdiction": "US", "leaves_premises": True}})


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_each_provider_has_at_least_three_current_models_with_fresh_dated_prices(provider: str) -> None:
    current = [m for m in load_catalogue().models
               if m.provider == provider and m.pricing.as_of is not None
               and not m.pricing.is_stale(TODAY) and m.pricing.source]
    assert len(current) >= 3, [m.id for m in current]


def test_current_models_carry_a_cached_input_rate_below_the_input_rate() -> None:
    catalogue = load_catalogue()
    for model_id in ["openai/gpt-6.2-sol", "openai/gpt-6-luna", "anthropic/claude-opus-5-5",
                     "anthropic/claude-sonnet-5-5", "anthropic/claude-haiku-5-5", "gemini/gemini-3.5-flash"]:
        entry = catalogue.get(model_id)
        assert entry is not None, model_id
        cached = entry.pricing.cached_input_per_mtok
        assert cached is not None and 0 < cached < entry.pricing.input_per_mtok, model_id


def test_a_price_change_is_one_line_of_data() -> None:
    lines = DEFAULT_CATALOGUE_PATH.read_text().splitlines()
    sol = [line for line in lines if "pricing: {" in line and "models/gpt-6.2-sol" in line]
    assert len(sol) == 1 and "cached_input_per_mtok: 0.10" in sol[0] and "as_of: 2026-12-03" in sol[0]


def test_cost_bills_cached_and_cache_written_tokens_at_their_rates() -> None:
    entry = _entry({"input_per_mtok": 2.0, "cached_input_per_mtok": 0.1, "cache_write_per_mtok": 2.5,
                    "output_per_mtok": 10.0})
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=100_000, cached_tokens=600_000,
                  cache_write_tokens=100_000, reasoning_tokens=40_000)
    # 300k uncached x 2 + 600k x 0.1 + 100k x 2.5 + 100k (reasoning included) x 10, per million
    assert request_cost(entry, usage) == pytest.approx(0.6 + 0.06 + 0.25 + 1.0)


def test_cost_without_cache_rates_bills_cached_tokens_at_the_input_rate() -> None:
    entry = _entry({"input_per_mtok": 2.0, "output_per_mtok": 10.0})
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=0, cached_tokens=600_000)
    assert request_cost(entry, usage) == pytest.approx(2.0)


def test_price_age_and_stale_warning_with_a_fixed_clock() -> None:
    entry = _entry({"input_per_mtok": 2.0, "cached_input_per_mtok": 0.1, "output_per_mtok": 10.0,
                    "as_of": "2026-09-03", "source": "https://example.test/pricing"})
    assert "read 2026-09-03 (91 days ago)" in price_line(entry, TODAY)
    assert "cached 0.1" in price_line(entry, TODAY)
    warning = stale_warning(entry, TODAY)
    assert warning is not None and "91 days" in warning and "example.test" in warning
    assert stale_warning(entry, dt.date(2026, 12, 2)) is None  # 90 days: not yet stale


def test_models_command_prints_prices_and_warns_about_old_ones(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(catalogue=DEFAULT_CATALOGUE_PATH, json=False)
    assert commands.models(args, today=TODAY) == 0
    out, err = capsys.readouterr()
    assert "openai/gpt-6.2-sol" in out and "read 2026-12-03 (0 days ago)" in out
    assert "WARNING: the price of openai/gpt-4o-mini" in err
    assert "gpt-6.2-sol" not in err

    args.json = True
    commands.models(args, today=TODAY)
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["openai/gpt-4o-mini"]["pricing"]["stale"] is True
    assert rows["anthropic/claude-haiku-5-5"]["pricing"]["cached_input_per_mtok"] == 0.01
