"""The telemetry parts of the `stellwerk` CLI: the sampling interval option and the queue lines."""

from __future__ import annotations

import pytest

from stellwerk_cli.commands import _print_status
from stellwerk_cli.main import build_parser


def test_serve_samples_every_two_seconds_unless_told_otherwise() -> None:
    parser = build_parser()

    assert parser.parse_args(["serve"]).telemetry_interval == 2.0
    assert parser.parse_args(["serve", "--telemetry-interval", "0.5"]).telemetry_interval == 0.5
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--telemetry-interval", "0"])


def test_status_prints_each_engines_queue(capsys: pytest.CaptureFixture[str]) -> None:
    _print_status({"ready": True, "models": {}, "gpus": [], "engines": {
        "gemma-3-270m": {"running": 1, "waiting": 2, "kv_cache_usage": 0.25, "replicas": 1},
        "qwen": {"running": 0, "waiting": 0, "kv_cache_usage": None, "replicas": 2},
        "openai/gpt-4o-mini": {"error": "down"}}})

    out = capsys.readouterr().out
    assert "1 running, 2 waiting, KV cache 25%, 1 replicas" in out
    assert "0 running, 0 waiting, KV cache ?, 2 replicas" in out
    assert "openai/gpt-4o-mini                   unknown (down)" in out


def test_status_prints_whether_the_shared_state_reaches_the_database(
        capsys: pytest.CaptureFixture[str]) -> None:
    _print_status({"ready": True, "models": {}, "gpus": [], "engines": {}, "shared_state": {
        "reachable": False,
        "routing_state": {"reachable": False, "last_sync_age_s": 12.4, "last_error": "StoreError: closed",
                          "while_unreachable": "breakers and spillover hold per router"},
        "rate_limits": {"reachable": None, "last_sync_age_s": None, "last_error": None,
                        "while_unreachable": "limits hold per router"}}})

    out = capsys.readouterr().out
    assert ("routing_state                        UNREACHABLE (StoreError: closed), last sync 12.4 s ago: "
            "breakers and spillover hold per router") in out
    assert "rate_limits                          not used yet" in out
