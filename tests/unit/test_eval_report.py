"""The whole eval pipeline with a scripted p_weak_ok: slices, JSON, plots, and Markdown equal to JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from benchmarks.eval.dataset import EvalDataError
from benchmarks.eval.evaluate import Costs
from benchmarks.eval.report import fmt_ratio, fmt_share, write_outputs
from benchmarks.eval.run import EvalRequest, run_eval
from tests.unit.test_eval_support import ScriptedScorer, eight_scorer, write_eight

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(tmp_path: Path, **options: Any) -> dict[str, Any]:
    request = EvalRequest(command="stellwerk eval --data x", data=write_eight(tmp_path / "eight.jsonl"),
                          threshold=0.35, **options)
    return run_eval(request, eight_scorer())


def test_slices_and_metrics(tmp_path: Path) -> None:
    result = _run(tmp_path, random_sims=50, seed=3, bootstrap=30)
    assert (result["strong"], result["weak"]) == ("big", "small")
    assert [s["name"] for s in result["slices"]] == ["all", "a", "b"]
    whole = result["slices"][0]
    assert whole["metrics"]["router"]["apgr"] == pytest.approx(0.75)
    assert whole["metrics"]["router"]["cpt_80"] == pytest.approx(0.2)
    assert whole["metrics"]["random_expected"]["apgr"] == pytest.approx(0.5)
    assert "random_simulated" in whole["metrics"]
    assert whole["bootstrap"]["reps"] == 30 and len(whole["bootstrap"]["apgr"]) == 2
    assert whole["operating_point"] == {"threshold": 0.35, "strong_share": 0.375, "quality": 0.625,
                                        "pgr": pytest.approx(0.5)}
    # category a: q1 (+1), q3 (-1), q5 (+1), q7 (0) in p order -> strong .75, weak .5
    a = result["slices"][1]
    assert (a["n"], a["strong_quality"], a["weak_quality"]) == (4, 0.75, 0.5)


def test_scorer_is_called_once_for_all_rows(tmp_path: Path) -> None:
    scorer = eight_scorer()
    run_eval(EvalRequest(command="c", data=write_eight(tmp_path / "e.jsonl")), scorer)
    assert len(scorer.calls) == 1 and len(scorer.calls[0]) == 8


def test_costs(tmp_path: Path) -> None:
    costs = _run(tmp_path, costs=Costs(strong=10.0, weak=1.0))["slices"][0]["costs"]
    assert costs["per_prompt"]["router_at_cpt_80"] == pytest.approx(0.2 * 10 + 0.8 * 1)
    assert costs["saving_vs_always_strong"]["always_weak"] == pytest.approx(0.9)


def test_outputs_exist_and_markdown_numbers_equal_json(tmp_path: Path) -> None:
    result = _run(tmp_path, costs=Costs(strong=10.0, weak=1.0), random_sims=10, bootstrap=20)
    paths = write_outputs(result, tmp_path / "out")
    for item in result["slices"]:
        png = paths[f"png:{item['name']}"]
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000
    saved = json.loads(paths["json"].read_text())
    markdown = paths["markdown"].read_text()
    rows = {cells[0]: cells for cells in _table(markdown, "## Summary")}
    for item in saved["slices"]:
        m = item["metrics"]
        router = m["router"]
        assert rows[item["name"]] == [
            item["name"], str(item["n"]), fmt_ratio(item["weak_quality"]), fmt_ratio(item["strong_quality"]),
            fmt_ratio(router["apgr"]), fmt_share(router["cpt_50"]), fmt_share(router["cpt_80"]),
            fmt_share(router["share_for_95pct_strong_quality"]), fmt_ratio(m["random_expected"]["apgr"]),
            fmt_ratio(m["oracle"]["apgr"])]
        assert f"![cost-quality curve of {item['name']}]({item['plot']})" in markdown
        low, high = item["bootstrap"]["apgr"]
        assert f"APGR {fmt_ratio(low)} to {fmt_ratio(high)}" in markdown
    assert rows["all"][4] == "0.750" and rows["all"][6] == "20.0 %"


def test_published_figures_only_for_routellm_data(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result["published"] == []
    assert "RouteLLM's published figures" not in write_outputs(result, tmp_path / "o")["markdown"].read_text()


def test_errors(tmp_path: Path) -> None:
    data = write_eight(tmp_path / "e.jsonl")
    with pytest.raises(EvalDataError, match="exactly one of"):
        run_eval(EvalRequest(command="c"), eight_scorer())
    with pytest.raises(EvalDataError, match="no finite p_weak_ok"):
        nan = ScriptedScorer({f"q{i}": float("nan") for i in range(9)})
        run_eval(EvalRequest(command="c", data=data), nan)
    with pytest.raises(EvalDataError, match="no score for 'huge'"):
        run_eval(EvalRequest(command="c", data=data, strong="huge", weak="small"), eight_scorer())


def _table(markdown: str, heading: str) -> list[list[str]]:
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
