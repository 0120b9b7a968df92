"""`cluster.ray_cluster.connect` slows Ray's periodic loops only on the embedded cluster, before Ray
starts, and never over a value the operator set (README "Idle")."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace
from typing import Any

import pytest
import ray

from cluster import ray_cluster
from cluster.ray_cluster import EMBEDDED_RAY_ENV


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str | None]]:
    """Ray and Serve replaced by recorders of the environment they would have started with."""
    seen: list[dict[str, str | None]] = []

    def init(*_: Any, **__: Any) -> None:
        seen.append({name: os.environ.get(name) for name in EMBEDDED_RAY_ENV})

    monkeypatch.setattr(ray, "init", init)
    # A stand-in for `ray.serve` (importing Serve here would only add its start-up and warnings).
    fake_serve = SimpleNamespace(start=lambda **_: None)
    monkeypatch.setitem(sys.modules, "ray.serve", fake_serve)
    monkeypatch.setattr(ray, "serve", fake_serve, raising=False)
    for name in [*EMBEDDED_RAY_ENV, "RAY_USAGE_STATS_ENABLED"]:  # connect sets them in this process
        # setenv first: monkeypatch records a variable's original state (here: maybe unset) only when
        # it changes it, and restores exactly that after the test, whatever connect set meanwhile.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return seen


def test_the_embedded_cluster_starts_with_the_slower_loops(started: list[dict[str, str | None]]) -> None:
    ray_cluster.connect(None, 1)
    assert started == [dict(EMBEDDED_RAY_ENV)]


def test_a_value_the_operator_set_wins(started: list[dict[str, str | None]],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_SERVE_CONTROL_LOOP_INTERVAL_S", "0.1")
    ray_cluster.connect(None, 1)
    assert started[0]["RAY_SERVE_CONTROL_LOOP_INTERVAL_S"] == "0.1"


def test_a_joined_cluster_keeps_rays_defaults(started: list[dict[str, str | None]]) -> None:
    ray_cluster.connect("10.0.0.1:6379", None)
    assert started == [dict.fromkeys(EMBEDDED_RAY_ENV)]
