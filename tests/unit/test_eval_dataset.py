"""The eval JSONL format: validation errors name the line; model pair choice; RouteLLM rows and counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.eval.dataset import EvalDataError, Row, load_rows, pick_pair
from benchmarks.eval.routellm import STRONG, WEAK, routellm_rows

GOOD = '{"prompt": "hi", "scores": {"a": 1, "b": 0.5}}'


def _file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reads_rows_with_defaults(tmp_path: Path) -> None:
    other = '{"id": 7, "prompt": "x", "scores": {"a": 0}, "category": "c"}'
    rows = load_rows(_file(tmp_path, GOOD, "", other))
    assert rows == [Row("1", "hi", {"a": 1.0, "b": 0.5}), Row("7", "x", {"a": 0.0}, "c")]


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", r"data.jsonl:2: not valid JSON"),
    ("[1, 2]", r":2: expected a JSON object, got list"),
    ('{"scores": {"a": 1}}', r":2: 'prompt' must be a non-empty string"),
    ('{"prompt": "  ", "scores": {"a": 1}}', r":2: 'prompt' must be a non-empty string"),
    ('{"prompt": "p"}', r":2: 'scores' must be a non-empty object"),
    ('{"prompt": "p", "scores": {"a": 1.5}}', r":2: score of 'a' must be in \[0, 1\], got 1.5"),
    ('{"prompt": "p", "scores": {"a": true}}', r":2: score of 'a' must be a number"),
    ('{"prompt": "p", "scores": {"a": "0.5"}}', r":2: score of 'a' must be a number"),
    ('{"prompt": "p", "scores": {"a": 1}, "answer": 3}', r":2: unknown field\(s\) \['answer'\]"),
    ('{"prompt": "p", "scores": {"a": 1}, "category": 3}', r":2: 'category' must be a non-empty string"),
    ('{"id": "1", "prompt": "p", "scores": {"a": 1}}', r":2: id '1' already used on line 1"),
])
def test_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(EvalDataError, match=message):
        load_rows(_file(tmp_path, GOOD, line))


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(EvalDataError, match="no rows"):
        load_rows(_file(tmp_path, "", " "))
    with pytest.raises(EvalDataError, match="cannot read"):
        load_rows(tmp_path / "absent.jsonl")


def test_pick_pair() -> None:
    rows = [Row("1", "p", {"a": 0.2, "b": 0.9}), Row("2", "q", {"a": 0.4, "b": 0.7})]
    assert pick_pair(rows, None, None) == ("b", "a")  # the better mean is strong
    assert pick_pair(rows, "a", "b") == ("a", "b")
    with pytest.raises(EvalDataError, match="same model"):
        pick_pair(rows, "a", "a")
    with pytest.raises(EvalDataError, match="row '2' has no score for 'c'"):
        pick_pair([Row("1", "p", {"a": 1, "c": 1}), Row("2", "q", {"a": 1})], "a", "c")
    with pytest.raises(EvalDataError, match="scores 3 models"):
        pick_pair([Row("1", "p", {"a": 1, "b": 1, "c": 1})], None, None)


def _labels(folder: Path, name: str, field: str, records: list[tuple[str, bool, bool, bool]]) -> None:
    (folder / name).mkdir(parents=True)
    lines = [json.dumps({field: text, "contaminated_in_routellm_train": dirty, "strong_correct": s,
                         "weak_correct": w}) for text, dirty, s, w in records]
    (folder / name / f"{name}_strong_weak_labels.jsonl").write_text("\n".join(lines) + "\n")


def test_routellm_rows_drop_contaminated_and_training_side(tmp_path: Path) -> None:
    _labels(tmp_path, "mmlu", "prompt", [("keep 1", False, True, False), ("keep 2", True, True, True),
                                          ("train 3", False, False, True), ("keep 4", False, False, True)])
    _labels(tmp_path, "gsm8k", "question", [("keep g", False, True, True), ("train g", False, True, False)])
    rows, counts = routellm_rows(tmp_path, ["mmlu", "gsm8k"], lambda text: text.startswith("keep"))
    assert [r.prompt for r in rows] == ["keep 1", "keep 4", "keep g"]
    assert rows[0].scores == {STRONG: 1.0, WEAK: 0.0} and rows[1].scores == {STRONG: 0.0, WEAK: 1.0}
    assert [r.category for r in rows] == ["mmlu", "mmlu", "gsm8k"]
    assert [c.as_dict() for c in counts] == [
        {"benchmark": "mmlu", "total": 4, "dropped_contaminated": 1, "dropped_training_side": 1,
         "kept_held_out": 2},
        {"benchmark": "gsm8k", "total": 2, "dropped_contaminated": 0, "dropped_training_side": 1,
         "kept_held_out": 1}]


def test_routellm_rows_errors(tmp_path: Path) -> None:
    with pytest.raises(EvalDataError, match="unknown benchmark 'mt-bench'"):
        routellm_rows(tmp_path, ["mt-bench"], lambda _: True)
    with pytest.raises(EvalDataError, match="shared routing data folder"):
        routellm_rows(tmp_path, ["mmlu"], lambda _: True)
