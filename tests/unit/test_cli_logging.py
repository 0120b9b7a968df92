"""Log hygiene of the `stellwerk` CLI: one-shot commands print their answer and no library INFO lines
(httpx logs one per request at INFO), `-v` shows them, `--log-format json` writes JSON lines, and the
tracing flags of `serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from stellwerk_cli.main import build_parser
from tests.fake_providers.runner import serve_app
from tests.fakes import FakeChatEngine, build_fake_app


@pytest.fixture(scope="module")
def router_url() -> Iterator[str]:
    with serve_app(build_fake_app([FakeChatEngine()]).app) as url:
        yield url


def stellwerk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stellwerk_cli.main", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "STELLWERK_OTEL_ENDPOINT": ""})


def test_status_prints_no_library_info_lines(router_url: str) -> None:
    result = stellwerk("status", "--url", router_url)
    assert result.returncode == 0, result.stderr
    assert "router: ready" in result.stdout
    assert result.stderr == ""  # before: "INFO httpx: HTTP Request: GET .../status "HTTP/1.1 200 OK""


def test_verbose_shows_the_http_calls(router_url: str) -> None:
    result = stellwerk("-v", "status", "--url", router_url)
    assert "HTTP Request: GET" in result.stderr


def test_models_prints_only_the_catalogue() -> None:
    result = stellwerk("models")
    assert result.returncode == 0 and "gemma-3-270m" in result.stdout
    # e.g. no "INFO cluster.gpu: no GPU ..." on a machine without one; what remains on stderr is the
    # command's own warning about prices read more than 90 days ago (catalogue entries kept from 2025)
    other = [line for line in result.stderr.splitlines() if not line.startswith("WARNING: the price of ")]
    assert other == []


def test_json_log_lines() -> None:
    code = ("import logging; from stellwerk_cli.logs import configure_logging; "
            "configure_logging(command='serve', verbose=False, log_format='json'); "
            "logging.getLogger('stellwerk').info('router listening on %s', 'x'); "
            "logging.getLogger('httpx').info('HTTP Request: POST upstream'); "
            "logging.getLogger('stellwerk').warning('careful')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in lines] == [
        ("INFO", "stellwerk", "router listening on x"), ("WARNING", "stellwerk", "careful")]
    assert lines[0]["ts"].endswith("+00:00")


def test_log_format_and_tracing_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STELLWERK_OTEL_ENDPOINT", raising=False)
    args = build_parser().parse_args(["--log-format", "json", "serve"])
    assert args.log_format == "json" and args.otel_endpoint is None and not args.otel_record_prompts
    monkeypatch.setenv("STELLWERK_OTEL_ENDPOINT", "http://collector:4318")
    assert build_parser().parse_args(["serve"]).otel_endpoint == "http://collector:4318"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--log-format", "xml", "serve"])


def test_serve_builds_tracing_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from router.tracing import Tracing
    from stellwerk_cli.commands import _tracing

    monkeypatch.delenv("STELLWERK_OTEL_ENDPOINT", raising=False)
    assert _tracing(build_parser().parse_args(["serve"])) is None
    tracing = _tracing(build_parser().parse_args(
        ["serve", "--otel-endpoint", "http://127.0.0.1:9/", "--otel-record-prompts"]))
    assert isinstance(tracing, Tracing) and tracing.record_prompts
    tracing.shutdown()
