"""Traces leave a real router process over OTLP/HTTP (`--otel-endpoint`) and arrive at a receiver
process of ours (protobuf decoded with opentelemetry-proto): one trace per request, the fallback as a
sibling attempt, the trace id in the ledger row."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.observability_server import FAILING
from tests.observability_stack import RouterProcess, free_port, router_process


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port, out = free_port(), tmp_path / "spans.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "tests.otlp_receiver", "--port", str(port),
                             "--out", str(out)])
    try:
        yield f"http://127.0.0.1:{port}", out
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _spans(out: Path, trace_id: str, expected: int, timeout_s: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = out.read_text().splitlines() if out.exists() else []
        spans = [s for s in map(json.loads, lines) if s["trace_id"] == trace_id]
        if len(spans) >= expected:
            return spans
        time.sleep(0.2)
    raise AssertionError(f"{expected} spans of trace {trace_id} did not arrive; got "
                         f"{[s['name'] for s in spans]}")


def test_traces_reach_an_otlp_receiver(tmp_path: Path, receiver: tuple[str, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint, out = receiver
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # export batches every 0.1 s, not 5 s
    router: RouterProcess
    with router_process(tmp_path, "--otel-endpoint", endpoint) as router:
        reply = router.chat("acme", stream=True)  # auto: the failing local model first, then a fallback
        assert reply.status_code == 200
        with sqlite3.connect(router.database) as db:
            (trace_id,) = db.execute("SELECT trace_id FROM ledger WHERE tenant = 'acme' AND endpoint = 'chat'"
                                     ).fetchone()
        assert trace_id and len(trace_id) == 32
        spans = _spans(out, trace_id, expected=8)
    names = {s["name"] for s in spans}
    assert names >= {"POST /v1/chat/completions", "stellwerk.authenticate", "stellwerk.policy",
                     "stellwerk.route", "stellwerk.features", f"chat {FAILING}", "chat openai/gpt-4o-mini",
                     "stellwerk.ledger.commit"}
    root = next(s for s in spans if s["name"] == "POST /v1/chat/completions")
    attempts = sorted((s for s in spans if s["name"].startswith("chat ")),
                      key=lambda s: s["attributes"]["stellwerk.attempt"])
    assert [a["parent_span_id"] for a in attempts] == [root["span_id"]] * 2  # siblings
    assert attempts[0]["attributes"]["error.type"] == "upstream_error"
    assert attempts[1]["attributes"]["gen_ai.usage.output_tokens"] == 3
    assert root["service"] == "stellwerk-router"
    assert root["attributes"]["gen_ai.response.model"] == "openai/gpt-4o-mini"
