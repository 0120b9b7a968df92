"""Ledger durability: a writer process killed with SIGKILL mid-load loses no record it had confirmed.

The child records requests through `LedgerWriter.record` from 32 concurrent tasks and prints each
request id only after `record` returned (as the router answers a client only after recording). The test
kills it with SIGKILL while it is writing, then checks that every printed id is in the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from router.store import Database

pytest_plugins = ["tests.postgres"]

REPO = Path(__file__).resolve().parents[2]
CONFIRMED_BEFORE_KILL = 2000

CHILD = """
import asyncio, itertools, sys
from datetime import UTC, datetime
from pathlib import Path
from router.store import Database, LedgerRecord, LedgerWriter

async def main(url: str) -> None:
    writer = LedgerWriter(Database.open(url, default_path=Path("/nonexistent")))
    writer.start()
    ids = itertools.count()

    async def client() -> None:
        while True:
            rid = f"req-{next(ids)}"
            await writer.record(LedgerRecord(datetime.now(UTC), rid, "acme", "k1", "/v1/chat", "gpt-5",
                                             "openai", 10, 5, 0.001, "USD", 1.0, "auto", None, 200, None))
            sys.stdout.write(rid + "\\n")
            sys.stdout.flush()

    await asyncio.gather(*(client() for _ in range(32)))

asyncio.run(main(sys.argv[1]))
"""


def confirmed_ids_until_killed(url: str) -> list[str]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, url], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stderr is not None
    confirmed: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while len(confirmed) < CONFIRMED_BEFORE_KILL and time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line, f"the writer died early: {child.stderr.read()[-2000:]}"
            confirmed.append(line.rstrip("\n"))
        os.kill(child.pid, signal.SIGKILL)  # mid-load: its clients are still recording
    finally:
        child.kill()
        rest, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    # Lines already in the pipe were confirmed before the kill; a torn last line was not.
    confirmed += [line for line in rest.split("\n")[:-1] if line]
    assert len(confirmed) >= CONFIRMED_BEFORE_KILL
    return confirmed


def test_no_confirmed_record_is_lost_when_the_writer_is_killed(database_url: str, tmp_path: Path) -> None:
    confirmed = confirmed_ids_until_killed(database_url)
    db = Database.open(database_url, default_path=tmp_path / "unused.db")
    try:
        with db.read() as cur:
            stored = {rid for (rid,) in cur.fetchall("SELECT request_id FROM ledger")}
    finally:
        db.close()
    missing = set(confirmed) - stored
    assert not missing, f"{len(missing)} of {len(confirmed)} confirmed lost, e.g. {sorted(missing)[:5]}"
    print(f"\n{database_url.split(':')[0]}: {len(confirmed)} confirmed, {len(stored)} stored after SIGKILL")
