"""Cached-input and reasoning tokens in the ledger (migration 4), the cost report and `stellwerk costs`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.store import CostQueries, Database, LedgerRecord, LedgerWriter
from stellwerk_cli.main import main


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


async def _record(db_url: str, *records: tuple[str, int, int, int, int, float]) -> None:
    db = Database.open(db_url, default_path=Path("unused"))
    writer = LedgerWriter(db)
    writer.start()
    for n, (model, prompt, cached, completion, reasoning, cost) in enumerate(records):
        await writer.record(LedgerRecord(
            datetime.now(UTC), f"r-{n}", "acme", None, "responses", model, "openai", prompt, completion, cost,
            "USD", 5.0, "requested", None, 200, None, cached_tokens=cached, reasoning_tokens=reasoning))
    writer.close()
    db.close()


async def test_ledger_sums_cached_and_reasoning_tokens_and_the_baseline_prices_cached_tokens(
        db_url: str) -> None:
    await _record(db_url, ("openai/gpt-6.2-sol", 1_000_000, 600_000, 100_000, 40_000, 1.0),
                  ("openai/gpt-6.2-sol", 1_000_000, 0, 0, 0, 2.0))
    db = Database.open(db_url, default_path=Path("unused"))
    try:
        ledger = CostQueries(db)
        [row] = ledger.costs()
        assert (row.prompt_tokens, row.cached_tokens) == (2_000_000, 600_000)
        assert (row.completion_tokens, row.reasoning_tokens) == (100_000, 40_000)
        # 1.4M uncached x $2 + 0.6M cached x $0.10 + 0.1M out x $10
        assert ledger.baseline_cost(input_per_mtok=2, output_per_mtok=10, cached_input_per_mtok=0.1) == \
            pytest.approx(2.8 + 0.06 + 1.0)
        assert ledger.baseline_cost(input_per_mtok=2, output_per_mtok=10) == pytest.approx(4.0 + 1.0)
    finally:
        db.close()


async def test_costs_command_shows_cached_and_reasoning_columns(db_url: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    await _record(db_url, ("openai/gpt-6.2-sol", 11, 8, 7, 3, 0.0000768))
    assert main(["costs", "--database", db_url, "--baseline", "openai/gpt-6.2-sol"]) == 0
    out = capsys.readouterr().out
    header, line = out.splitlines()[:2]
    assert "cached" in header and "reasoning" in header
    assert line.split()[3:8] == ["1", "11", "8", "7", "3"]
    assert main(["costs", "--json", "--database", db_url]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tenants"]["acme"]["cached_tokens"] == 8 and report["rows"][0]["reasoning_tokens"] == 3
