"""`stellwerk eval --decision`: the real RoutingService over scored rows, with scripted per-prompt
predictions, against single models, their envelope, random and the oracle."""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
from pathlib import Path

import pytest

from benchmarks.eval.dataset import EvalDataError, Row
from benchmarks.eval.decision_eval import DecisionEval, candidate_entries, common_models, evaluate_decision
from benchmarks.eval.prices import Price, load_prices
from models.catalogue import ModelEntry, load_catalogue
from router.features.request_features import RequestFeatures
from router.routing.config import load_routing_config
from stellwerk_cli.main import build_parser

PRICES = {"small": Price(0.1, 0.1), "mid": Price(1.0, 4.0), "big": Price(5.0, 20.0)}


def _rows(n: int = 300, seed: int = 1) -> list[Row]:
    """Easy rows every model gets right, medium ones mid and big get, hard ones only big gets."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        level = rng.choice(["easy", "medium", "hard"])
        scores = {"small": float(level == "easy"), "mid": float(level != "hard"), "big": 1.0}
        rows.append(Row(f"r{i}", f"{level} question number {i}", scores))
    return rows


def _features(rows: list[Row]) -> dict[str, RequestFeatures]:
    return {r.prompt: RequestFeatures(prompt_tokens=40, max_tokens=None, needs_tools=False, needs_json=False,
                                      has_images=False, language="en", category="knowledge",
                                      category_confidence=1.0, p_weak_ok=None) for r in rows}


class Blind:
    """The same prediction for every prompt: a router that knows nothing of the prompt."""

    def predict(self, features: RequestFeatures, entry: ModelEntry) -> float | None:
        return {"small": 0.33, "mid": 0.66, "big": 1.0}[entry.id]


class Oracle:
    """Predicts each model's true score (read from the prompt text the features stand for)."""

    def __init__(self, rows: list[Row]) -> None:
        self._by_id = {r.prompt: r.scores for r in rows}

    def features(self, rows: list[Row]) -> dict[str, RequestFeatures]:
        # Encode the row's index in prompt_tokens so predict can find it (features hold no text).
        base = _features(rows)
        return {p: dataclasses.replace(f, prompt_tokens=40 + i) for i, (p, f) in enumerate(base.items())}

    def predict(self, features: RequestFeatures, entry: ModelEntry) -> float | None:
        scores = list(self._by_id.values())[features.prompt_tokens - 40]
        return 0.05 + 0.9 * scores[entry.id]


def _spec(rows: list[Row]) -> DecisionEval:
    entries = candidate_entries(["small", "mid", "big"], load_catalogue(), PRICES)
    return DecisionEval(rows, entries, load_routing_config(), None, (0.0, 10.0, 100.0, 1000.0, 1e5))


def test_a_router_that_knows_the_prompts_beats_every_single_model_at_equal_cost() -> None:
    rows = _rows()
    oracle = Oracle(rows)
    result = evaluate_decision(_spec(rows), oracle.features(rows), oracle)

    assert result["beats_envelope"]
    best = result["at_best_single_quality"]
    assert best is not None and best["cost"] < result["single_models"]["big"]["cost"] * 0.6
    assert result["oracle"]["quality"] == pytest.approx(1.0)


def test_a_blind_router_does_not_beat_the_envelope() -> None:
    rows = _rows()
    result = evaluate_decision(_spec(rows), _features(rows), Blind())

    assert not result["beats_envelope"]
    # Each sweep point is one single model: all rows go to the same model at a given weight.
    assert all(len(p["shares"]) == 1 for p in result["sweep"])


def test_candidates_are_the_models_every_row_scores_and_need_a_price() -> None:
    rows = [Row("1", "a", {"x": 1.0, "y": 0.0, "z": 1.0}), Row("2", "b", {"x": 0.0, "y": 1.0})]
    assert common_models(rows) == ["x", "y"]
    with pytest.raises(EvalDataError, match="no score for 'z'"):
        common_models(rows, ["x", "z"])
    with pytest.raises(EvalDataError, match="no price for"):
        candidate_entries(["x"], load_catalogue(), {})


def test_prices_come_from_yaml_or_a_markdown_table(tmp_path: Path) -> None:
    table = tmp_path / "MODELS.md"
    table.write_text("| model | family | $/1M in | $/1M out |\n|---|---|---|---|\n"
                     "| `gemma-2-2b-it` | Gemma | 0.1 | 0.1 |\n| `grok-2` | xAI | n/a | n/a |\n")
    assert load_prices(table) == {"gemma-2-2b-it": Price(0.1, 0.1)}
    data = tmp_path / "prices.yaml"
    data.write_text("m1: {input_per_mtok: 1, output_per_mtok: 2}\n")
    assert load_prices(data) == {"m1": Price(1.0, 2.0)}
    data.write_text("m1: {input_per_mtok: 1, output_per_mtok: 2}\n"
                    "m2:\n  input_per_mtok: -1\n  output_per_mtok: 2\n")
    with pytest.raises(EvalDataError, match=r"line 3: m2\.input_per_mtok"):
        load_prices(data)


def test_the_cli_writes_the_report(tmp_path: Path) -> None:
    rows = _rows(60)
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"id": r.id, "prompt": r.prompt, "scores": r.scores,
                                        "source": "synthetic"}) + "\n" for r in rows))
    prices = tmp_path / "prices.yaml"
    prices.write_text("".join(f"{m}: {{input_per_mtok: {p.input_per_mtok}, output_per_mtok: "
                              f"{p.output_per_mtok}}}\n" for m, p in PRICES.items()))
    args = build_parser().parse_args(["eval", "--decision", "--data", str(data), "--prices", str(prices),
                                      "--cost-weights", "0,100", "--out", str(tmp_path / "out")])
    from stellwerk_cli.eval_decision import handle_decision

    oracle = Oracle(rows)
    assert handle_decision(args, predictor=oracle, features=oracle.features(rows)) == 0
    result = json.loads((tmp_path / "out" / "decision.json").read_text())
    assert [p["cost_weight"] for p in result["sweep"]] == [0.0, 100.0]
    assert (tmp_path / "out" / "decision.png").stat().st_size > 1000
    assert "Best single model" in (tmp_path / "out" / "decision.md").read_text()


def test_the_cli_refuses_decision_mode_without_data(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(decision=True, data=None, routellm_dir=Path("x"))
    from stellwerk_cli.eval_decision import handle_decision

    assert handle_decision(args) == 2
    assert "--decision needs --data" in capsys.readouterr().err


def test_the_envelope_keeps_the_better_of_two_models_at_the_same_cost() -> None:
    from benchmarks.eval.decision_eval import _quality_at, _upper_envelope

    hull = _upper_envelope([(1.0, 0.2), (1.0, 0.33), (3.0, 0.9), (2.0, 0.4)])
    assert hull[0] == (1.0, 0.33)
    assert _quality_at(hull, 1.0) == 0.33 and _quality_at(hull, 0.5) == 0.33
    assert _quality_at(hull, 2.0) == pytest.approx(0.615)
