"""The ledger writer's bound: a database that does not keep up cannot make the router hold unbounded
records (the outage itself runs in tests/chaos/test_database_outage.py against a real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.store import Database, LedgerRecord, LedgerWriter
from router.store.ledger import LedgerFull


def record(request_id: str) -> LedgerRecord:
    return LedgerRecord(ts=datetime(2026, 3, 1, tzinfo=UTC), request_id=request_id, tenant="t", key_id=None,
                        endpoint="chat", model="m", provider="p", prompt_tokens=1, completion_tokens=1,
                        cost=0.0, currency="USD", latency_ms=1.0, route="requested", objective=None,
                        status=200, error_type=None)


@pytest.mark.asyncio
async def test_a_full_queue_refuses_waiters_and_drops_unwaited_records(tmp_path: Path) -> None:
    db = Database.open(None, default_path=tmp_path / "ledger.db")
    writer = LedgerWriter(db, max_queued=3)  # not started: nothing is written, as if the database hung
    for i in range(3):
        writer.record_nowait(record(f"r{i}"))

    writer.record_nowait(record("dropped"))
    with pytest.raises(LedgerFull):
        await writer.record(record("refused"))

    assert writer.dropped == 1
    writer.start()
    writer.close()
    assert writer.rows == 3
    db.close()
