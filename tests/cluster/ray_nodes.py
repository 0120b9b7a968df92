"""A real two-node Ray cluster on this host for tests: `ray start --head` plus a worker node that
carries the custom resource `worker_node`, with Ray's token authentication (`RAY_AUTH_MODE=token`).

Each `ray start` runs in its own session, so every daemon and worker it spawns (GCS, raylet, agents,
`ray::` workers) can be found by session id and stopped by PID — never `ray stop`, which would stop
every Ray process on the machine, other users' too. Workers import this checkout's code
(PYTHONPATH is the repository root).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RayNodes", "forget_cluster", "free_port", "ray_env", "session_processes", "stop_session",
           "two_node_cluster"]

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))
WORKER_RESOURCE = "worker_node"
CURRENT_CLUSTER_FILE = Path("/tmp/ray/ray_current_cluster")
# This cluster's own token (not ~/.ray/auth_token, which other clusters on the machine may share).
AUTH_TOKEN = secrets.token_hex(32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ray_env() -> dict[str, str]:
    """The environment of Ray nodes and drivers: token auth, this checkout on the path, no usage stats."""
    return {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": AUTH_TOKEN,
            "RAY_USAGE_STATS_ENABLED": "0",
            "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


def session_processes(sid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat="], capture_output=True, text=True, check=True).stdout
    pids = []
    for line in out.splitlines():
        pid, psid, stat = line.split(None, 2)
        if int(psid) == sid and not stat.startswith("Z") and int(pid) != os.getpid():
            pids.append(int(pid))
    return pids


def stop_session(sid: int, grace_s: float = 15.0) -> list[int]:
    """SIGTERM every process of the session, SIGKILL what is left after `grace_s`; returns the PIDs
    that had to be killed."""
    for pid in session_processes(sid):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while session_processes(sid) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = session_processes(sid)
    for pid in left:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


@dataclass
class RayNodes:
    address: str
    sessions: list[int] = field(default_factory=list)
    logs: Path = Path()

    def start_node(self, *args: str, name: str) -> None:
        log = self.logs / f"ray-start-{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([RAY, "start", *args, "--disable-usage-stats"], stdout=out,
                                    stderr=subprocess.STDOUT, env=ray_env(), cwd=ROOT, start_new_session=True)
        self.sessions.append(proc.pid)
        if proc.wait(timeout=180) != 0:
            raise RuntimeError(f"ray start ({name}) failed:\n{log.read_text()[-3000:]}")


@contextmanager
def two_node_cluster(logs: Path, cpus_per_node: int = 1) -> Iterator[RayNodes]:
    """A head node (no custom resources) and a worker node with {"worker_node": 1}."""
    port = free_port()
    nodes = RayNodes(f"127.0.0.1:{port}", logs=logs)
    try:
        nodes.start_node("--head", f"--port={port}", f"--num-cpus={cpus_per_node}",
                         "--include-dashboard=false", f"--ray-client-server-port={free_port()}", name="head")
        nodes.start_node(f"--address={nodes.address}", f"--num-cpus={cpus_per_node}",
                         f'--resources={{"{WORKER_RESOURCE}": 1}}', name="worker")
        yield nodes
    finally:
        for sid in reversed(nodes.sessions):
            stop_session(sid)
        forget_cluster(port)


def forget_cluster(port: int, address_file: Path = CURRENT_CLUSTER_FILE) -> None:
    """Remove Ray's "current cluster" file if it names our head, as `ray stop` does.

    NOTE: `ray start --head` writes its address there, and a later `ray.init()` on this machine —
    anyone's embedded Stellwerk — would try to join that (dead) cluster instead of starting its own
    ("When connecting to an existing cluster, num_cpus ... must not be provided").
    """
    with suppress(FileNotFoundError):
        if address_file.read_text().strip().endswith(f":{port}"):
            address_file.unlink()
