"""`stellwerk bench` on the command line: clear errors (exit 2, no traceback) and a short real run
against the fake OpenAI-compatible server of benchmarks/bench/fake_server.py."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.bench.fake_server import create_app
from stellwerk_cli.main import main
from tests.fake_providers.runner import serve_app


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    with serve_app(create_app(ttft_ms=5, itl_ms=1)) as url:
        yield url + "/v1"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bench(*args: str) -> int:
    return main(["bench", "--no-progress", *args])


@pytest.mark.parametrize(("args", "message"), [
    (["--sweep", "speed:1,2"], "bad sweep"),
    (["--api-key-env", "STELLWERK_TEST_UNSET_KEY"], "STELLWERK_TEST_UNSET_KEY: that environment variable"),
    (["--dataset", "/nonexistent/prompts.jsonl"], "cannot read dataset"),
    (["--url", "ftp://h/v1"], "expected an http:// or https:// URL"),
])
def test_usage_errors_exit_2_with_a_message(args: list[str], message: str, fake_url: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert _bench("--url", fake_url, "--model", "fake", *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("stellwerk bench: ") and message in err and "Traceback" not in err


def test_an_unreachable_endpoint_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _bench("--url", f"http://127.0.0.1:{_closed_port()}/v1", "--model", "m") == 2
    assert "cannot reach" in capsys.readouterr().err


def test_a_missing_peer_tool_is_reported_before_any_load(fake_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STELLWERK_PEERS_DIR", str(tmp_path))
    assert _bench("--url", fake_url, "--model", "fake", "--compare", "guidellm", "--output",
                  str(tmp_path / "out")) == 2
    assert "benchmarks/peers/setup.sh guidellm" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [["--requests", "0"], ["--rate", "-1"], ["--output-tokens", "uniform:9,3"],
                                  ["--rate", "1", "--concurrency", "2"]])
def test_bad_values_are_refused_by_the_parser(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        _bench("--model", "m", *args)
    assert exit_.value.code == 2 and "error:" in capsys.readouterr().err


def test_a_short_sweep_writes_json_plots_and_report(fake_url: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = _bench("--url", fake_url, "--model", "fake", "--sweep", "concurrency:1,3", "--requests", "6",
                  "--input-tokens", "uniform:5,15", "--output-tokens", "4", "--slo-ttft-ms", "10000",
                  "--seed", "5", "--output", str(out))
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert [s["label"] for s in results["steps"]] == ["concurrency 1 in flight", "concurrency 3 in flight"]
    for step in results["steps"]:
        summary = step["summary"]
        assert summary["requests"] == summary["completed"] == 6 and summary["good_requests"] == 6
        assert summary["mean_output_tokens"] == 4 and len(step["requests"]) == 6
        assert 5 <= summary["mean_input_tokens"] <= 15  # the fake counts words
    assert results["config"]["seed"] == 5 and "--sweep" in results["command"]
    assert all((out / "plots" / name).stat().st_size > 0 for name in ("latency.png", "ttft_cdf.png"))
    assert "## Latency (ms)" in (out / "report.md").read_text()
    assert "concurrency 3 in flight: 6/6 ok" in capsys.readouterr().out


def test_errors_are_counted_by_status(fake_url: str, tmp_path: Path) -> None:
    out = tmp_path / "fail"
    assert _bench("--url", fake_url, "--model", "fail", "--rate", "50", "--arrival", "constant",
                  "--requests", "3", "--warmup", "0", "--dataset", "builtin", "--output", str(out)) == 0
    summary = json.loads((out / "results.json").read_text())["steps"][0]["summary"]
    assert summary["errors_by_status"] == {"500": 3} and summary["error_rate"] == 1.0
    assert "500: 3" in (out / "report.md").read_text()
