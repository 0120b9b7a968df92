"""Start the benchmark's servers as separate processes, pinned to chosen CPUs, and stop them cleanly.

Each server is one process (uvicorn, one worker) started with `taskset -c <cpus>` when CPUs are given,
polled until its `ready_path` answers, logged to a file, and stopped with SIGTERM (SIGKILL after a grace
period) — only the processes this module started, by their process group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Running", "Server", "ServerError", "free_port", "running"]


class ServerError(RuntimeError):
    """A server did not start (its log's tail is in the message)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """How to start one server: its command, the CPUs it may use, and the URL that says it is up."""

    name: str
    command: Sequence[str]
    port: int
    ready_path: str
    cpus: str | None = None
    env: dict[str, str | None] | None = None  # added to ours; None removes a variable
    start_timeout_s: float = 60.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Running:
    server: Server
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def _pinned(command: Sequence[str], cpus: str | None) -> list[str]:
    if cpus is None:
        return list(command)
    taskset = shutil.which("taskset")
    if taskset is None:
        raise ServerError("taskset is not installed; run with --no-pin")
    return [taskset, "-c", cpus, *command]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_ready(run: Running) -> None:
    deadline = time.monotonic() + run.server.start_timeout_s
    url = run.server.base_url + run.server.ready_path
    while time.monotonic() < deadline:
        if run.process.poll() is not None:
            raise ServerError(f"{run.server.name} exited with {run.process.returncode}:\n{_tail(run.log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    waited = run.server.start_timeout_s
    raise ServerError(f"{run.server.name} not ready after {waited:.0f} s:\n{_tail(run.log)}")


def _stop(run: Running, grace_s: float = 10.0) -> None:
    if run.process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(run.process.pid, signal.SIGTERM)
    try:
        run.process.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.process.pid, signal.SIGKILL)
        run.process.wait(5)


@contextlib.contextmanager
def running(server: Server, log_dir: Path) -> Iterator[Running]:
    """Start `server` (in its own process group), wait until it answers, stop it on exit."""
    log = log_dir / f"{server.name}.log"
    merged = {**os.environ, **(server.env or {})}
    env = {k: v for k, v in merged.items() if v is not None}
    with log.open("wb") as out:
        process = subprocess.Popen(_pinned(server.command, server.cpus), stdout=out, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True)
    run = Running(server, process, log)
    try:
        _wait_ready(run)
        yield run
    finally:
        _stop(run)
