"""`stellwerk plan` and `stellwerk cost-model` end to end on the shipped data: files, numbers, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.planner.report import money
from stellwerk_cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "benchmarks" / "planner" / "examples" / "traffic.yaml"


def test_plan_writes_json_markdown_and_png_that_agree(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(EXAMPLE), "--gpu-cap", "2", "--output", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "plan.json").read_text())
    md = (tmp_path / "plan.md").read_text()
    png = (tmp_path / "plan.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    plan = doc["plan"]
    assert f"**Monthly total {money(plan['total_cost_month'])}**" in md
    assert money(plan["total_cost_month"]) in capsys.readouterr().out
    assert plan["total_cost_month"] == pytest.approx(plan["hardware_cost_month"] + plan["remote_cost_month"])
    assert sum(m["replicas"] * m["units_per_replica"] for m in plan["models"]) <= 2
    routed = next(s for s in doc["scenarios"] if s["name"] == "routed")
    assert routed["total_cost_month"] == pytest.approx(plan["total_cost_month"])
    assert "PUBLISHED" in md and "MEASURED" in md
    for row in doc["cost_per_mtok"]["rows"]:
        assert money(row["blended_per_mtok"]) in md
    caps = doc["scans"]["unit_cap"]
    assert [c["units"] for c in caps] == list(range(len(caps)))
    assert caps[0]["hardware_cost_month"] == 0


def test_more_gpus_never_spill_more(tmp_path: Path) -> None:
    assert main(["plan", str(EXAMPLE), "--output", str(tmp_path)]) == 0
    caps = json.loads((tmp_path / "plan.json").read_text())["scans"]["unit_cap"]
    spills = [c["peak_spill_share"] for c in caps]
    assert spills == sorted(spills, reverse=True) and spills[-1] == 0


def test_cost_model_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost-model", "--json", "--mix", "3:1", "--price", "h100-80gb=1.5"]) == 0
    rows = {r["model"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["openai/gpt-4o-mini"]["blended_per_mtok"] == pytest.approx(0.2625)
    llama = rows["llama-3.1-8b-instruct"]
    assert llama["kind"] == "local" and "$1.5/gpu-h" in llama["basis"]


@pytest.mark.parametrize("argv", [
    ["plan"],
    ["plan", "missing.yaml"],
    ["plan", str(EXAMPLE), "--objective", "nope"],
    ["plan", str(EXAMPLE), "--price", "h100-80gb=cheap"],
    ["plan", str(EXAMPLE), "--price", "tpu=1"],
    ["plan", str(EXAMPLE), "--utilisation", "0"],
    ["plan", "--predict", "1,2"],
    ["cost-model", "--mix", "3"],
])
def test_bad_input_exits_2_with_a_message(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("stellwerk ") and "Traceback" not in err
