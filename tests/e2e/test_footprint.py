"""What the embedded stack runs besides the router and its engine while idle: Ray's periodic loops at
the cadence of `cluster.ray_cluster.EMBEDDED_RAY_ENV`, and no usage-telemetry actor (README "Idle")."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.proc_cpu import session_labels, snapshot
from cluster.ray_cluster import EMBEDDED_RAY_ENV
from tests.e2e.conftest import Stack


def _stack_processes(stack: Stack) -> dict[int, str]:
    """pid -> its label (`ray::ServeController`, ...), for every process in the stack's session."""
    if stack.pid is None:
        pytest.skip("an external stack's processes are not on this machine")
    return session_labels(snapshot(), os.getsid(stack.pid))


def test_the_embedded_stack_starts_no_usage_telemetry_actor(stack: Stack) -> None:
    names = list(_stack_processes(stack).values())
    assert any(name.startswith("ray::ServeReplica") for name in names), names  # Ray's processes are seen
    # Ray's LLMServer creates a detached TelemetryAgent even with usage stats off (serving/llm_server.py).
    assert not [name for name in names if name.startswith("ray::TelemetryAgent")]


def test_rays_processes_run_at_the_embedded_cadence(stack: Stack) -> None:
    processes = _stack_processes(stack)
    controller = next(pid for pid, name in processes.items() if name.startswith("ray::ServeController"))
    environ = dict(line.split("=", 1) for line in
                   Path(f"/proc/{controller}/environ").read_text(errors="replace").split("\0") if "=" in line)
    for name, value in EMBEDDED_RAY_ENV.items():
        assert environ.get(name) == os.environ.get(name, value), name
