"""`models.quality`: the shipped table covers every chat model, and bad files fail with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from models.catalogue import load_catalogue
from models.categories import CATEGORIES
from models.quality import QualityTable, QualityTableError

FRONTIER = ["openai/gpt-4.1", "anthropic/claude-sonnet-4", "gemini/gemini-2.5-pro"]
TINY = "gemma-3-270m"


def one_model_table(**row_overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "scores": dict.fromkeys(CATEGORIES, 0.5),
        "sources": dict.fromkeys(CATEGORIES, "Bench 50.0 — https://example.com"),
    }
    row.update(row_overrides)
    return {"as_of": "2026-11-26", "benchmarks": dict.fromkeys(CATEGORIES, "Bench"),
            "models": {"tiny": row}}


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "quality.yaml"
    # NOTE: a real date, as an operator would write it (a quoted string is rejected by strict mode).
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).replace("'2026-11-26'", "2026-11-26")
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(QualityTableError) as caught:
        QualityTable.load(path)
    message = str(caught.value)
    assert str(path) in message
    return message


# --- the shipped table -----------------------------------------------------------------------------


def test_every_chat_model_in_the_catalogue_has_a_full_row() -> None:
    table = QualityTable.load()
    chat_ids = [m.id for m in load_catalogue().models if m.task == "chat"]

    assert sorted(table.model_ids()) == sorted(chat_ids)
    for model_id in chat_ids:
        for category in CATEGORIES:
            score = table.score(model_id, category)
            assert score is not None and 0.0 <= score <= 1.0, (model_id, category)


def test_every_category_names_its_benchmark_and_every_figure_its_origin() -> None:
    data = QualityTable.load().to_json()

    assert set(data["benchmarks"]) == set(CATEGORIES)
    for model_id, row in data["models"].items():
        for category in CATEGORIES:
            assert category in row["sources"] or category in row["derived"], (model_id, category)
        for text in row["sources"].values():
            assert "https://" in text, (model_id, text)


@pytest.mark.parametrize("frontier", FRONTIER)
def test_frontier_models_score_at_least_the_tiny_model_in_every_category(frontier: str) -> None:
    table = QualityTable.load()

    for category in CATEGORIES:
        tiny, big = table.score(TINY, category), table.score(frontier, category)
        assert tiny is not None and big is not None
        assert big >= tiny, (frontier, category)


def test_the_tiny_model_scores_low() -> None:
    table = QualityTable.load()

    assert all((table.score(TINY, c) or 0.0) < 0.6 for c in CATEGORIES)


def test_unknown_model_scores_none_and_unknown_category_raises() -> None:
    table = QualityTable.load()

    assert table.score("no-such-model", "coding") is None
    with pytest.raises(KeyError, match="poetry"):
        table.score(TINY, "poetry")


# --- bad files -------------------------------------------------------------------------------------


def test_a_missing_category_is_named(tmp_path: Path) -> None:
    data = one_model_table()
    del data["models"]["tiny"]["scores"]["math"]  # type: ignore[index]

    message = load_error(write(tmp_path, data))

    assert "models.tiny" in message and "'tiny'" in message
    assert "scores: missing category 'math'" in message
    assert "line " in message


def test_a_score_above_one_is_rejected(tmp_path: Path) -> None:
    data = one_model_table()
    data["models"]["tiny"]["scores"]["coding"] = 1.3  # type: ignore[index]

    message = load_error(write(tmp_path, data))

    assert "models.tiny.scores.coding" in message
    assert "less than or equal to 1" in message


def test_an_unknown_category_is_named(tmp_path: Path) -> None:
    data = one_model_table()
    data["models"]["tiny"]["scores"]["poetry"] = 0.4  # type: ignore[index]

    message = load_error(write(tmp_path, data))

    assert "unknown category 'poetry'" in message and "'tiny'" in message


def test_an_unknown_field_is_rejected(tmp_path: Path) -> None:
    data = one_model_table(weight=2)

    message = load_error(write(tmp_path, data))

    assert "models.tiny.weight" in message and "Extra inputs are not permitted" in message


def test_a_score_without_source_or_derivation_is_rejected(tmp_path: Path) -> None:
    data = one_model_table()
    del data["models"]["tiny"]["sources"]["writing"]  # type: ignore[index]

    message = load_error(write(tmp_path, data))

    assert "no source or derivation for 'writing'" in message


def test_a_score_given_as_text_is_rejected(tmp_path: Path) -> None:
    data = one_model_table()
    data["models"]["tiny"]["scores"]["coding"] = "0.8"  # type: ignore[index]

    message = load_error(write(tmp_path, data))

    assert "models.tiny.scores.coding" in message


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    assert "cannot read" in load_error(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [unclosed", encoding="utf-8")
    assert "not valid YAML" in load_error(bad)


def test_a_valid_minimal_table_loads(tmp_path: Path) -> None:
    table = QualityTable.load(write(tmp_path, one_model_table()))

    assert table.model_ids() == ["tiny"]
    assert table.score("tiny", "general") == 0.5
    assert table.to_json()["as_of"] == "2026-11-26"
