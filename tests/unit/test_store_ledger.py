"""The cost ledger: group commit, `record` returns after the commit, and the cost queries on known data."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from router.store import CostQueries, CostRow, Database, LedgerError, LedgerRecord, LedgerWriter
from router.store.clock import to_us

pytest_plugins = ["tests.postgres"]

DAY1, DAY2 = date(2026, 3, 1), date(2026, 3, 2)


def rec(request_id: str, ts: datetime, tenant: str = "acme", model: str = "gpt-5", provider: str = "openai",
        prompt: int = 10, completion: int = 5, cost: float = 0.001, status: int = 200) -> LedgerRecord:
    return LedgerRecord(ts=ts, request_id=request_id, tenant=tenant, key_id="k1",
                        endpoint="/v1/chat/completions", model=model, provider=provider, prompt_tokens=prompt,
                        completion_tokens=completion, cost=cost, currency="USD", latency_ms=123.5,
                        route="auto:cheapest", objective="cheapest", status=status,
                        error_type=None if status == 200 else "upstream_error")


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, us, tzinfo=UTC)


KNOWN = [  # the expected totals in the tests below are computed by hand from these six records
    rec("a", at(DAY1, 10), model="gemma-3-270m", provider="local", prompt=100, completion=50, cost=0.0),
    rec("b", at(DAY1, 23, 59, 59, 999_999), prompt=1000, completion=500, cost=0.02),
    rec("c", at(DAY2), prompt=2000, completion=1000, cost=0.04),
    rec("d", at(DAY2, 8), prompt=10, completion=0, cost=0.0, status=502),
    rec("e", at(DAY2, 9), tenant="globex", model="claude", provider="anthropic", prompt=300, completion=200,
        cost=0.5),
    # 01:30 at UTC+2 is 23:30 UTC on DAY1: days are UTC days.
    rec("f", datetime(2026, 3, 2, 1, 30, tzinfo=timezone(timedelta(hours=2))), tenant="globex",
        model="claude", provider="anthropic", prompt=100, completion=100, cost=0.1),
]


def write_all(db: Database, records: list[LedgerRecord]) -> LedgerWriter:
    writer = LedgerWriter(db)
    for r in records:
        writer.record_nowait(r)
    writer.start()
    writer.close()
    return writer


def count(db: Database) -> int:
    with db.read() as cur:
        return int(cur.fetchall("SELECT COUNT(*) FROM ledger")[0][0])


def test_queued_records_are_group_committed_in_one_transaction(database: Database) -> None:
    writer = write_all(database, [rec(f"r{i}", at(DAY1, 12)) for i in range(500)])
    assert (writer.rows, writer.batches) == (500, 1)
    assert count(database) == 500


def test_max_batch_bounds_a_transaction(database: Database) -> None:
    writer = LedgerWriter(database, max_batch=100)
    for i in range(250):
        writer.record_nowait(rec(f"r{i}", at(DAY1, 12)))
    writer.start()
    writer.close()
    assert (writer.rows, writer.batches) == (250, 3)


async def test_record_returns_once_the_row_is_visible_to_other_connections(database: Database,
                                                                          database_url: str,
                                                                          tmp_path: Path) -> None:
    other = Database.open(database_url, default_path=tmp_path / "unused.db")
    writer = LedgerWriter(database)
    writer.start()
    try:
        async def record_and_check(i: int) -> None:
            await writer.record(rec(f"r{i}", at(DAY1, 12)))
            with other.read() as cur:
                assert cur.fetchall("SELECT COUNT(*) FROM ledger WHERE request_id = ?", (f"r{i}",)) == [(1,)]

        await asyncio.gather(*(record_and_check(i) for i in range(50)))
    finally:
        writer.close()
        other.close()
    assert writer.rows == 50


async def test_waiters_queued_together_share_one_commit(database: Database) -> None:
    writer = LedgerWriter(database)
    waiters = [asyncio.ensure_future(writer.record(rec(f"r{i}", at(DAY1, 12)))) for i in range(64)]
    await asyncio.sleep(0)  # every waiter has queued its record; none is committed yet
    assert not any(w.done() for w in waiters)
    writer.start()
    await asyncio.gather(*waiters)
    writer.close()
    assert (writer.rows, writer.batches) == (64, 1)


async def test_a_closed_writer_refuses_records_and_a_failed_commit_reaches_the_waiter(
        database_url: str, tmp_path: Path) -> None:
    db = Database.open(database_url, default_path=tmp_path / "unused.db")
    writer = LedgerWriter(db, retry_delays_s=(0.0,))
    writer.start()
    await writer.record(rec("ok", at(DAY1)))
    db.close()  # the database goes away under the writer
    with pytest.raises(LedgerError, match="not committed"):
        await writer.record(rec("lost", at(DAY1)))
    writer.close()
    with pytest.raises(LedgerError, match="closed"):
        await writer.record(rec("late", at(DAY1)))
    with pytest.raises(LedgerError, match="closed"):
        writer.record_nowait(rec("late", at(DAY1)))


def test_naive_timestamps_are_refused(database: Database) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        rec("naive", datetime(2026, 3, 1, 12)).row()


def test_costs_are_grouped_by_tenant_model_provider_and_utc_day(database: Database) -> None:
    write_all(database, KNOWN)
    ledger = CostQueries(database)
    assert ledger.costs() == [
        CostRow("acme", "gemma-3-270m", "local", DAY1, "USD", 1, 100, 50, 0.0),
        CostRow("acme", "gpt-5", "openai", DAY1, "USD", 1, 1000, 500, 0.02),
        CostRow("globex", "claude", "anthropic", DAY1, "USD", 1, 100, 100, 0.1),
        CostRow("acme", "gpt-5", "openai", DAY2, "USD", 2, 2010, 1000, 0.04),
        CostRow("globex", "claude", "anthropic", DAY2, "USD", 1, 300, 200, 0.5),
    ]


def test_cost_filters_are_inclusive_days_and_a_tenant_sees_only_its_rows(database: Database) -> None:
    write_all(database, KNOWN)
    ledger = CostQueries(database)
    assert ledger.costs(tenant="acme", since=DAY2) == [
        CostRow("acme", "gpt-5", "openai", DAY2, "USD", 2, 2010, 1000, 0.04)]
    assert [r.day for r in ledger.costs(until=DAY1)] == [DAY1] * 3
    assert {r.tenant for r in ledger.costs(tenant="globex")} == {"globex"}
    assert ledger.costs(tenant="initech") == []
    assert ledger.costs(since=DAY2, until=DAY1) == []


def test_spent_sums_a_tenants_cost_from_a_moment(database: Database) -> None:
    write_all(database, KNOWN)
    ledger = CostQueries(database)
    assert ledger.spent("acme", at(DAY2)) == pytest.approx(0.04)
    assert ledger.spent("acme", at(DAY1, 10)) == pytest.approx(0.06)
    assert ledger.spent("acme", at(DAY1, 10, us=1)) == pytest.approx(0.06)  # "b" is later that day
    assert ledger.spent("globex", at(DAY1)) == pytest.approx(0.6)
    assert ledger.spent("initech", at(DAY1)) == 0.0


def test_baseline_prices_every_recorded_token_at_the_frontier_model(database: Database) -> None:
    write_all(database, KNOWN)
    ledger = CostQueries(database)
    # All tenants: 3510 prompt and 1850 completion tokens; acme alone: 3110 and 1550.
    assert ledger.baseline_cost(input_per_mtok=2.0, output_per_mtok=8.0) == pytest.approx(
        (3510 * 2.0 + 1850 * 8.0) / 1e6)
    assert ledger.baseline_cost(input_per_mtok=2.0, output_per_mtok=8.0, tenant="acme") == pytest.approx(
        (3110 * 2.0 + 1550 * 8.0) / 1e6)
    assert ledger.baseline_cost(input_per_mtok=2.0, output_per_mtok=8.0, tenant="acme", since=DAY2,
                                until=DAY2) == pytest.approx((2010 * 2.0 + 1000 * 8.0) / 1e6)
    assert ledger.baseline_cost(input_per_mtok=2.0, output_per_mtok=8.0, tenant="initech") == 0.0


def test_every_field_round_trips(database: Database) -> None:
    original = replace(KNOWN[3], key_id=None, objective=None)
    write_all(database, [original])
    with database.read() as cur:
        (row,) = cur.fetchall("SELECT ts_us, request_id, tenant, key_id, endpoint, model, provider, "
                              "prompt_tokens, completion_tokens, cost, currency, latency_ms, route, "
                              "objective, status, error_type FROM ledger")
    assert row[0] == to_us(original.ts)
    assert row[1:] == ("d", "acme", None, "/v1/chat/completions", "gpt-5", "openai", 10, 0, 0.0, "USD", 123.5,
                       "auto:cheapest", None, 502, "upstream_error")
