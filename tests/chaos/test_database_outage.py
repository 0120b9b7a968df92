"""PostgreSQL stopped under traffic, through the real router process (a private PostgreSQL server, not
the shared one). Documented behaviour (README, "Reliability"): while the ledger cannot commit, chat
requests are refused with 503 `ledger_unavailable` (fast: no upstream work whose cost could not be
recorded); no answered request lacks its ledger row; when the database is back, requests succeed again
and the kept rows of the refusals are written."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.chaos.harness import ledger_rows, router_process, upstream_process
from tests.postgres import PostgresServer, find_server_bin

HANG_BOUND_S = 60.0  # detects a hang only


class RestartablePostgres(PostgresServer):
    """`PostgresServer` that can be stopped and started again on the same data folder and port."""

    def halt(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c shared_buffers=32MB -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")


@pytest.fixture
def postgres() -> Iterator[RestartablePostgres]:
    bindir = find_server_bin()
    if bindir is None:
        pytest.fail("PostgreSQL server programs not found: run scripts/ensure_postgres.sh")
    server = RestartablePostgres(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def _traffic(client: httpx.AsyncClient, stop: asyncio.Event, outcomes: list[tuple[int, str]]) -> None:
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    while not stop.is_set():
        response = await client.post("/v1/chat/completions", json=body)
        if response.status_code == 200:
            outcomes.append((200, response.json()["id"]))
        else:
            outcomes.append((response.status_code, response.json()["error"]["code"]))
        await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_a_stopped_database_refuses_requests_loses_no_answered_row_and_recovers(
        postgres: RestartablePostgres, tmp_path: Path) -> None:
    database = postgres.create_database()
    with upstream_process() as upstream, router_process(upstream, database) as router:
        outcomes: list[tuple[int, str]] = []
        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=router.url, timeout=HANG_BOUND_S) as client:
            workers = [asyncio.create_task(_traffic(client, stop, outcomes)) for _ in range(4)]
            await asyncio.sleep(1.0)
            answered_before = len(outcomes)
            await asyncio.to_thread(postgres.halt)
            deadline = time.monotonic() + HANG_BOUND_S
            while not any(code == "ledger_unavailable" for _, code in outcomes[answered_before:]):
                assert time.monotonic() < deadline, "requests were not refused while the database was down"
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(postgres.resume)
            recovered_at = len(outcomes)
            while not any(status == 200 for status, _ in outcomes[recovered_at:]):
                assert time.monotonic() < deadline, "requests did not succeed after the database came back"
                await asyncio.sleep(0.2)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*workers), HANG_BOUND_S)

        statuses = {status for status, _ in outcomes}
        assert statuses <= {200, 503}, outcomes
        assert {code for status, code in outcomes if status == 503} == {"ledger_unavailable"}
        answered = {rid for status, rid in outcomes if status == 200}
        refused = sum(1 for status, _ in outcomes if status == 503)
        rows = ledger_rows(database, at_least=len(answered) + refused)
        recorded = {r["request_id"] for r in rows if r["status"] == 200}
        assert answered <= recorded  # no acknowledged row lost
        assert len(rows) == len(outcomes)  # and every refusal has its row too, once the database is back
        print(f"\n{len(outcomes)} requests: {len(answered)} answered, {refused} refused with 503; "
              f"{len(rows)} ledger rows ({sum(1 for r in rows if r['status'] == 503)} of refusals)")
