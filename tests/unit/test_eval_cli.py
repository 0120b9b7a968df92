"""`stellwerk eval` on the command line: --help, clear exit-2 errors, and a scripted end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stellwerk_cli import eval as eval_cli
from stellwerk_cli.main import build_parser, main
from tests.unit.test_eval_support import eight_scorer, write_eight


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--routellm-dir" in out and "APGR" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["eval"], "one of the arguments --data --routellm-dir is required"),
    (["eval", "--data", "x", "--costs", "strong=1"], "expected both strong=X and weak=Y"),
    (["eval", "--data", "x", "--costs", "strong=a,weak=1"], "strong cost must be a number"),
    (["eval", "--data", "x", "--threshold", "2"], "must be in [0, 1]"),
    (["eval", "--data", "x", "--random-sims", "-1"], "must be 0 or more"),
])
def test_argument_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_dataset_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "p", "scores": {"a": 1}}\n{"prompt": "q", "scores": {"a": 7}}\n')
    code = main(["eval", "--data", str(bad), "--no-cache", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"stellwerk eval: {bad}:2: score of 'a' must be in [0, 1], got 7" in err
    assert "Traceback" not in err


def test_run_with_a_scripted_scorer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = build_parser().parse_args(["eval", "--data", str(write_eight(tmp_path / "e.jsonl")),
                                      "--costs", "strong=10,weak=1", "--threshold", "0.35",
                                      "--out", str(out)])
    assert eval_cli.handle(args, scorer=eight_scorer()) == 0
    result = json.loads((out / "eval.json").read_text())
    assert result["settings"]["costs"] == {"strong": 10.0, "weak": 1.0}
    assert result["settings"]["threshold_source"] == "--threshold"
    assert result["slices"][0]["metrics"]["router"]["apgr"] == pytest.approx(0.75)
    assert "APGR 0.750" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["eval-a.png", "eval-all.png", "eval-b.png", "eval.json",
                                                      "eval.md"]


def test_default_threshold_comes_from_the_routing_config(tmp_path: Path) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text("default_objective: b\nobjectives:\n  b:\n"
                      "    type: cheapest\n    hard_threshold: 0.4\n")
    out = tmp_path / "out"
    args = build_parser().parse_args(["eval", "--data", str(write_eight(tmp_path / "e.jsonl")),
                                      "--routing-config", str(config), "--random-sims", "0",
                                      "--out", str(out)])
    assert eval_cli.handle(args, scorer=eight_scorer()) == 0
    settings = json.loads((out / "eval.json").read_text())["settings"]
    assert settings["threshold"] == 0.4 and "'b'" in settings["threshold_source"]
