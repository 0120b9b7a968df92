"""Evaluation rows: the documented JSONL format (FORMAT.md), read and validated line by line.

Each line is one prompt with a score in [0, 1] per model. Errors name the file and the line, so an
operator evaluating their own traffic sees exactly which row is wrong.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["EvalDataError", "Row", "load_rows", "pick_pair", "validate_row"]

_ALLOWED_KEYS = frozenset({"id", "prompt", "scores", "category"})
# Fields of the routing data's multi-model outcome files, read past (they do not change the evaluation).
_IGNORED_KEYS = frozenset({"source", "subcategory", "source_subset", "gold", "n_models"})


class EvalDataError(ValueError):
    """A dataset (or a choice of models) that cannot be evaluated; the message says where and why."""


@dataclass(frozen=True)
class Row:
    """One prompt with each model's quality score in [0, 1] and an optional category."""

    id: str
    prompt: str
    scores: dict[str, float] = field(hash=False)
    category: str | None = None
    source: str | None = None  # the multi-model outcome files' `source` field, for slicing


def load_rows(path: Path) -> list[Row]:
    """All rows of the JSONL file `path` (blank lines skipped); raises EvalDataError naming the line."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, gzip.BadGzipFile) as exc:
        raise EvalDataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise EvalDataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        row = validate_row(_parse(line, where), where, default_id=str(number))
        if row.id in seen:
            raise EvalDataError(f"{where}: id {row.id!r} already used on line {seen[row.id]}")
        seen[row.id] = number
        rows.append(row)
    if not rows:
        raise EvalDataError(f"{path}: no rows")
    return rows


def _parse(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvalDataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc


def validate_row(data: Any, where: str, default_id: str) -> Row:
    """`data` (one parsed line) as a Row, or EvalDataError saying what is wrong at `where`."""
    if not isinstance(data, dict):
        raise EvalDataError(f"{where}: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _ALLOWED_KEYS - _IGNORED_KEYS)
    if unknown:
        raise EvalDataError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(_ALLOWED_KEYS)} "
                            f"(and, ignored, {sorted(_IGNORED_KEYS)})")
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise EvalDataError(f"{where}: 'prompt' must be a non-empty string")
    return Row(id=_row_id(data.get("id", default_id), where), prompt=prompt,
               scores=_scores(data.get("scores"), where), category=_category(data.get("category"), where),
               source=data["source"] if isinstance(data.get("source"), str) else None)


def _row_id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EvalDataError(f"{where}: 'id' must be a string or an integer")
    return str(value)


def _scores(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, dict) or not value:
        raise EvalDataError(f"{where}: 'scores' must be a non-empty object {{\"<model>\": score}}")
    scores: dict[str, float] = {}
    for model, score in value.items():
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise EvalDataError(f"{where}: score of {model!r} must be a number in [0, 1], got {score!r}")
        if not 0.0 <= score <= 1.0:
            raise EvalDataError(f"{where}: score of {model!r} must be in [0, 1], got {score}")
        scores[model] = float(score)
    return scores


def _category(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise EvalDataError(f"{where}: 'category' must be a non-empty string when given")
    return value


def pick_pair(rows: Sequence[Row], strong: str | None, weak: str | None) -> tuple[str, str]:
    """The (strong, weak) model ids: as given, or, for a dataset of exactly two models, the one with
    the higher mean score as strong. Every row must score both; errors name the first row missing one."""
    models = _models(rows)
    if strong is None or weak is None:
        if strong is None and weak is None and len(models) == 2:
            ranked = sorted(models, key=lambda m: _mean(rows, m), reverse=True)
            strong, weak = ranked[0], ranked[1]
        else:
            raise EvalDataError(f"the dataset scores {len(models)} models {sorted(models)}: "
                                "name both with --strong ID --weak ID")
    if strong == weak:
        raise EvalDataError(f"--strong and --weak are the same model {strong!r}")
    for model in (strong, weak):
        missing = next((r for r in rows if model not in r.scores), None)
        if missing is not None:
            raise EvalDataError(f"row {missing.id!r} has no score for {model!r} "
                                f"(it scores {sorted(missing.scores)})")
    return strong, weak


def _models(rows: Iterable[Row]) -> set[str]:
    return {model for row in rows for model in row.scores}


def _mean(rows: Sequence[Row], model: str) -> float:
    values = [r.scores[model] for r in rows if model in r.scores]
    return sum(values) / len(values) if values else 0.0
