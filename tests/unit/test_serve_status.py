"""`cluster.serve_status`: the Serve status watcher with an injected reader (no Ray)."""

from __future__ import annotations

import enum
import sys
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cluster.serve_status import AppStatus, ServeStatusWatcher, read_serve_status

APP = "llm-gemma-3-270m"
RUNNING = {APP: AppStatus(APP, "RUNNING", "", {"RUNNING": 1})}


@pytest.fixture
def make_watcher() -> Iterator[Callable[..., ServeStatusWatcher]]:
    """Watchers whose threads are stopped after the test."""
    watchers: list[ServeStatusWatcher] = []

    def make(read: Callable[[], dict[str, AppStatus]], interval_s: float = 3600.0) -> ServeStatusWatcher:
        watcher = ServeStatusWatcher(read, interval_s=interval_s)
        watchers.append(watcher)
        return watcher

    yield make
    for watcher in watchers:
        watcher.stop()


def test_start_reads_once_before_returning(make_watcher: Callable[..., ServeStatusWatcher]) -> None:
    watcher = make_watcher(lambda: dict(RUNNING))
    assert watcher.get(APP) is None
    assert watcher.describe(APP) == "not deployed"

    watcher.start()

    status = watcher.get(APP)
    assert status is not None and status.running
    assert watcher.all() == RUNNING
    assert watcher.describe(APP) == "RUNNING"


def test_describe_includes_the_message(make_watcher: Callable[..., ServeStatusWatcher]) -> None:
    failed = AppStatus(APP, "DEPLOY_FAILED", "replica crashed: out of memory", {})
    watcher = make_watcher(lambda: {APP: failed})
    watcher.start()

    assert not failed.running
    assert watcher.describe(APP) == "DEPLOY_FAILED: replica crashed: out of memory"
    assert watcher.describe("llm-other") == "not deployed"


def test_a_failed_read_keeps_the_last_reading(make_watcher: Callable[..., ServeStatusWatcher]) -> None:
    calls = 0
    failed_twice = threading.Event()

    def read() -> dict[str, AppStatus]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return dict(RUNNING)
        if calls >= 3:
            failed_twice.set()
        raise ConnectionError("the Serve controller is restarting")

    watcher = make_watcher(read, interval_s=0.001)
    watcher.start()

    assert failed_twice.wait(timeout=10), "the watcher thread did not poll again"
    assert watcher.all() == RUNNING


def test_a_failing_first_read_leaves_nothing_deployed(
        make_watcher: Callable[..., ServeStatusWatcher]) -> None:
    def read() -> dict[str, AppStatus]:
        raise ConnectionError("no Ray driver")

    watcher = make_watcher(read)
    watcher.start()

    assert watcher.all() == {}


def test_later_readings_replace_earlier_ones(make_watcher: Callable[..., ServeStatusWatcher]) -> None:
    readings = iter([{APP: AppStatus(APP, "DEPLOYING", "", {"STARTING": 1})}])
    polled = threading.Event()

    def read() -> dict[str, AppStatus]:
        try:
            return next(readings)
        except StopIteration:
            polled.set()
            return dict(RUNNING)

    watcher = make_watcher(read, interval_s=0.001)
    watcher.start()
    assert polled.wait(timeout=10), "the watcher thread did not poll again"
    watcher.stop()

    assert watcher.describe(APP) == "RUNNING"


# --- read_serve_status, against a fake Serve client ------------------------------------------------


class _Status(enum.Enum):
    RUNNING = "RUNNING"


class _ReplicaState(enum.Enum):
    RUNNING = "RUNNING"
    STARTING = "STARTING"


def _fake_serve(monkeypatch: pytest.MonkeyPatch, details: dict[str, Any] | None) -> None:
    """`ray.serve.context._get_global_client` answering with a client whose controller sends
    `details` (the instance details dict, as Serve's controller sends it), or no client (None)."""
    client = None if details is None else types.SimpleNamespace(get_serve_details=lambda: details)
    context = types.ModuleType("ray.serve.context")
    context._get_global_client = (  # type: ignore[attr-defined]
        lambda raise_if_no_controller_running=True: client)
    serve = types.ModuleType("ray.serve")
    serve.context = context  # type: ignore[attr-defined]
    ray = types.ModuleType("ray")
    ray.serve = serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ray", ray)
    monkeypatch.setitem(sys.modules, "ray.serve", serve)
    monkeypatch.setitem(sys.modules, "ray.serve.context", context)


def test_read_serve_status_counts_replica_states_over_deployments(monkeypatch: pytest.MonkeyPatch) -> None:
    def replicas(*states: _ReplicaState) -> list[dict[str, Any]]:
        return [{"replica_id": str(i), "state": state} for i, state in enumerate(states)]

    _fake_serve(monkeypatch, {"applications": {
        # The controller's dict keeps Serve's enums; the REST API's JSON has their values.
        APP: {"status": _Status.RUNNING, "message": "", "deployments": {
            "a": {"status": "HEALTHY", "replicas": replicas(_ReplicaState.RUNNING, _ReplicaState.RUNNING)},
            "b": {"status": "UPDATING",
                  "replicas": replicas(_ReplicaState.RUNNING, _ReplicaState.STARTING)}}},
        "llm-other": {"status": "DEPLOYING", "message": "waiting for resources", "deployments": {}},
        "llm-new": {"status": "DEPLOYING"},
    }})

    assert read_serve_status() == {
        APP: AppStatus(APP, "RUNNING", "", {"RUNNING": 3, "STARTING": 1}),
        "llm-other": AppStatus("llm-other", "DEPLOYING", "waiting for resources", {}),
        "llm-new": AppStatus("llm-new", "DEPLOYING", "", {}),
    }


def test_read_serve_status_before_serve_started_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_serve(monkeypatch, None)
    assert read_serve_status() == {}


def test_running_replicas_counts_the_watchers_running_replicas(
        make_watcher: Callable[..., ServeStatusWatcher]) -> None:
    from cluster.serve_engines import running_replicas

    scaling = {APP: AppStatus(APP, "RUNNING", "", {"RUNNING": 2, "STARTING": 1})}
    watcher = make_watcher(lambda: dict(scaling))
    watcher.start()
    count = running_replicas(watcher)

    assert count(APP) == 2
    assert count("llm-not-deployed") == 0
