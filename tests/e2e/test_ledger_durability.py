"""kill -9 the router under load: every request that got an answer is in the ledger (SQLite and
PostgreSQL). The router here runs over fake engines (tests/tenancy_server.py): the ledger path is the
real one, and the whole Ray stack is not needed to kill a router."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from router.store import Database, KeyStore

pytest_plugins = ["tests.postgres"]

TENANTS = "tenants:\n  acme: {}\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the router exited"
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("the router did not start")


async def _load(url: str, secret: str, answered: list[str], stop: asyncio.Event) -> None:
    """Keep 16 requests in flight (half streaming) until `stop`; note the id of every full answer."""
    headers = {"authorization": f"Bearer {secret}"}

    async def worker(i: int, client: httpx.AsyncClient) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            body = {"model": "auto" if n % 2 else "gemma-3-270m", "stream": i % 2 == 0,
                    "messages": [{"role": "user", "content": f"worker {i} request {n} says hello"}]}
            try:
                reply = await client.post(url + "/v1/chat/completions", json=body, headers=headers)
            except httpx.HTTPError:
                return  # the router is gone
            if reply.status_code != 200:
                continue
            if body["stream"]:
                if not reply.text.rstrip().endswith("data: [DONE]"):
                    continue  # cut off mid-stream: not an answered request
                answered.append(reply.text.split('"id":"', 1)[1].split('"', 1)[0])
            else:
                answered.append(reply.json()["id"])

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(i, client) for i in range(16)))


async def test_kill_9_mid_load_loses_no_answered_request(database_url: str, tmp_path: Path) -> None:
    db = Database.open(database_url, default_path=tmp_path / "unused.db")
    _, secret = KeyStore(db).create("acme", "durability", actor="test")
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(TENANTS)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(  # noqa: ASYNC220 (starting a process does not block the loop for long)
        [sys.executable, "-m", "tests.tenancy_server", "--database", database_url,
         "--tenants", str(tenants), "--port", str(port)], start_new_session=True)
    try:
        _wait_up(url, proc)
        answered: list[str] = []
        stop = asyncio.Event()
        load = asyncio.create_task(_load(url, secret, answered, stop))
        for _ in range(600):  # until 200 answers (at most 60 s)
            if len(answered) >= 200:
                break
            await asyncio.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        stop.set()
        await asyncio.wait_for(load, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(answered) >= 200, "the load never got going"

    with db.read() as cur:
        recorded = {row[0] for row in cur.fetchall("SELECT request_id FROM ledger")}
    db.close()
    missing = [rid for rid in answered if rid not in recorded]
    assert not missing, f"{len(missing)} of {len(answered)} answered requests are not in the ledger"
    assert len(recorded) >= len(answered)
