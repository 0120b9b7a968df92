"""A vLLM replica killed under streaming load (issue #13): no 500 and no hang. Streams in flight end
with an OpenAI error event and `[DONE]`; requests during the outage get a clear 503/504 (named model)
or fall back to another model (`auto`); Serve restarts the replica and the model answers again.

It kills the Serve replica actor of the chat model and its vLLM EngineCore with SIGKILL, as a crash
or an out-of-memory kill would. Runs last in tests/e2e (file order): the stack keeps working after it,
with a fresh replica.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import CHAT_MODEL, Stack, session_processes

IN_FLIGHT = 4
RECOVERY_BOUND_S = 600  # a hang guard, not a timing claim: Serve restarts vLLM in ~1-2 min here
CLEAR_STATUSES = {200, 503, 504}


def _replica_pids(session: int) -> list[int]:
    """The chat model's Serve replica and its children (vLLM's EngineCore), in the stack's session."""
    replicas = [int(line.split()[0]) for line in session_processes(session)
                if "ServeReplica" in line and CHAT_MODEL in line]
    assert len(replicas) == 1, session_processes(session)
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    pairs = (line.split() for line in out.splitlines())
    children = [int(pid) for pid, ppid in pairs if int(ppid) == replicas[0]]
    return replicas + children


def _stream(api: str, started: threading.Event) -> tuple[int, list[str]]:
    """One long stream; `started` is set at its first token. Returns the status and the data lines."""
    body = {"model": CHAT_MODEL, "stream": True, "max_tokens": 400, "ignore_eos": True, "min_tokens": 400,
            "stop": [], "messages": [{"role": "user", "content": "Write a very long story."}]}
    lines: list[str] = []
    with httpx.Client(timeout=httpx.Timeout(300, connect=10)) as http, \
            http.stream("POST", api + "/chat/completions", json=body) as reply:
        for line in reply.iter_lines():
            if line.startswith("data: "):
                lines.append(line)
                if len(lines) == 2:
                    started.set()
        return reply.status_code, lines


def _ask(api: str, model: str) -> httpx.Response:
    return httpx.post(api + "/chat/completions", timeout=400, json={
        "model": model, "max_tokens": 4, "messages": [{"role": "user", "content": "Say hello."}]})


def test_a_replica_killed_mid_stream_fails_cleanly_and_recovers(stack: Stack) -> None:
    if stack.pid is None:
        pytest.skip("an external stack: its processes are not ours to kill")
    pids = _replica_pids(stack.pid)
    mark = _last_ledger_id(stack)
    events = [threading.Event() for _ in range(IN_FLIGHT)]
    with ThreadPoolExecutor(IN_FLIGHT + 1) as pool:
        streams = [pool.submit(_stream, stack.api, e) for e in events]
        for event in events:
            assert event.wait(300), "a stream never started"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        fallback = pool.submit(_ask, stack.api, "auto")
        results = [s.result(timeout=RECOVERY_BOUND_S) for s in streams]  # no hang
        auto = fallback.result(timeout=RECOVERY_BOUND_S)

    for status, lines in results:
        assert status == 200  # the first byte had been sent
        assert lines[-1] == "data: [DONE]"
        error = json.loads(lines[-2][len("data: "):])["error"]
        assert error["type"] != "internal_error" and CHAT_MODEL in error["message"], error
    assert auto.status_code == 200, auto.text  # `auto` falls back to another model meanwhile

    outage: list[int] = []
    while time.monotonic() - killed_at < RECOVERY_BOUND_S:
        reply = _ask(stack.api, CHAT_MODEL)
        assert reply.status_code in CLEAR_STATUSES, reply.text
        if reply.status_code == 200:
            break
        outage.append(reply.status_code)
        assert _error_of(reply)["message"], reply.text  # an OpenAI error body that says what is wrong
        time.sleep(3)
    else:
        pytest.fail(f"{CHAT_MODEL} did not answer within {RECOVERY_BOUND_S} s of the kill: {outage}")
    assert reply.json()["choices"][0]["message"]["content"] is not None
    assert set(_replica_pids(stack.pid)).isdisjoint(pids)  # a new replica, not the old one

    # Every request of this test is in the ledger once, with its true status: the cut streams as errors
    # (not 200, not "client left"), `auto` and the recovered request as 200, each outage reply as sent.
    statuses = _ledger_statuses_after(stack, mark, IN_FLIGHT + 1 + len(outage) + 1)
    assert statuses.count(200) == 2, statuses
    errors = sorted(s for s in statuses if s != 200)
    for status in outage:
        errors.remove(status)
    assert len(errors) == IN_FLIGHT and all(500 <= s < 600 for s in errors), (statuses, outage)


def _ledger_path(stack: Stack) -> str:
    assert stack.database_url is not None and stack.database_url.startswith("sqlite:///")
    return stack.database_url[len("sqlite:///"):]


def _last_ledger_id(stack: Stack) -> int:
    with sqlite3.connect(_ledger_path(stack)) as db:
        return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM ledger").fetchone()[0])


def _ledger_statuses_after(stack: Stack, mark: int, expected: int) -> list[int]:
    deadline = time.monotonic() + 30  # refusals' rows are written without a waiter
    while True:
        with sqlite3.connect(_ledger_path(stack)) as db:
            query = db.execute("SELECT status FROM ledger WHERE id > ? ORDER BY id", (mark,))
            rows = [int(r[0]) for r in query]
        if len(rows) >= expected or time.monotonic() > deadline:
            assert len(rows) == expected, rows
            return rows
        time.sleep(0.2)


def _error_of(reply: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = reply.json()["error"]
    return error
