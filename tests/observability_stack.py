"""Starts `tests.observability_server` (a real router process over fake engines and GPUs) with tenants
and an admin key, and drives it: keys through the admin API, traffic, bans."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["ADMIN_KEY", "TENANTS_YAML", "RouterProcess", "free_port", "router_process"]

ADMIN_KEY = "observe-admin-key"
# acme: no limits; tight: one request a minute and no haiku; broke: a budget the first paid request spends.
TENANTS_YAML = """\
auth: required
tenants:
  acme: {}
  tight:
    limits: {requests_per_minute: 1}
    policy: {deny_models: [anthropic/claude-3.5-haiku]}
  broke:
    budget: {per_day: 0.000001}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RouterProcess:
    url: str
    database: Path
    log: Path
    keys: dict[str, str] = field(default_factory=dict)

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"authorization": f"Bearer {ADMIN_KEY}", "x-stellwerk-actor": "test"})

    def create_key(self, tenant: str) -> str:
        with self.admin() as admin:
            reply = admin.post("/admin/keys", json={"tenant": tenant, "name": "test"})
        assert reply.status_code == 200, reply.text
        self.keys[tenant] = reply.json()["secret"]
        return self.keys[tenant]

    def chat(self, tenant: str, model: str = "auto", *, stream: bool = False,
             text: str = "hello there router") -> httpx.Response:
        body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]}
        if stream:
            body["stream_options"] = {"include_usage": True}
        return httpx.post(self.url + "/v1/chat/completions", json=body, timeout=30,
                          headers={"authorization": f"Bearer {self.keys[tenant]}"})

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def router_process(folder: Path, *extra_args: str) -> Iterator[RouterProcess]:
    """The router on a free loopback port, with keys for acme, tight and broke; stopped afterwards."""
    tenants, database, log = folder / "tenants.yaml", folder / "stellwerk.db", folder / "router.log"
    tenants.write_text(TENANTS_YAML)
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.observability_server", "--port", str(port),
             "--database", f"sqlite:///{database}", "--tenants", str(tenants), *extra_args],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "STELLWERK_ADMIN_KEY": ADMIN_KEY})
    router = RouterProcess(f"http://127.0.0.1:{port}", database, log)
    try:
        _wait_healthy(router, proc)
        for tenant in ("acme", "tight", "broke"):
            router.create_key(tenant)
        yield router
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(router: RouterProcess, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the router exited with {proc.returncode}:\n{router.tail()}")
        try:
            if httpx.get(router.url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the router did not start within 60 s:\n{router.tail()}")
