"""Processes for the fault-injection tests: the fault upstream and the router, each on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from router.store import Database

__all__ = ["RouterProcess", "free_port", "ledger_rows", "process_usage", "router_process", "upstream_process"]

ROOT = Path(__file__).resolve().parents[2]
_LEDGER = ("request_id", "endpoint", "model", "status", "error_type")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _process(args: list[str], url: str, ready_path: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + ready_path, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not start (exit {proc.poll()})")
            time.sleep(0.1)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@contextmanager
def upstream_process() -> Iterator[str]:
    """The fault upstream; yields its OpenAI base URL (…/v1)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with _process(["tests.chaos.fault_upstream", "--port", str(port)], url, "/ready"):
        yield url + "/v1"


@dataclass
class RouterProcess:
    url: str
    database: str
    pid: int

    def in_flight(self) -> float:
        """The sum of the in-flight gauge over every endpoint and model."""
        text = httpx.get(self.url + "/metrics", timeout=10).text
        return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                   if s.name == "stellwerk_requests_in_flight")


@contextmanager
def router_process(upstream: str, database: str, **options: Any) -> Iterator[RouterProcess]:
    """The real router (tests.chaos.router_process) with `options` as its command-line flags."""
    port = free_port()
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    url = f"http://127.0.0.1:{port}"
    args = ["tests.chaos.router_process", "--port", str(port), "--upstream", upstream, "--database", database,
            *flags]
    with _process(args, url, "/health") as proc:
        yield RouterProcess(url, database, proc.pid)


def ledger_rows(database: str, at_least: int = 0, timeout_s: float = 15.0) -> list[dict[str, Any]]:
    """The ledger's rows, waiting up to `timeout_s` for `at_least` of them (refusals are written
    without a waiter)."""
    db = Database.open(database, default_path=Path("unused.db"))
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            with db.read() as cur:
                rows = cur.fetchall(f"SELECT {', '.join(_LEDGER)} FROM ledger ORDER BY ts_us", [])
            if len(rows) >= at_least or time.monotonic() > deadline:
                return [dict(zip(_LEDGER, r, strict=True)) for r in rows]
            time.sleep(0.1)
    finally:
        db.close()


def process_usage(pid: int) -> tuple[int, int]:
    """(resident memory in KiB, open file descriptors) of a process (Linux)."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))
