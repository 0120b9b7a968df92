"""Evaluation rows from RouteLLM's MMLU and GSM8K strong-vs-weak outcomes (the shared routing data).

Reads DIR/mmlu/mmlu_strong_weak_labels.jsonl and DIR/gsm8k/gsm8k_strong_weak_labels.jsonl (see the
data's SOURCES.md) in place; nothing is copied. Rows RouteLLM found in its own training data
(`contaminated_in_routellm_train`) are dropped, as RouteLLM's evaluation does, and so are rows on the
training side of `router.features.split.is_held_out`: the quality head never saw the rows kept.
Scores are 1.0 / 0.0 for a correct / wrong answer; the category is the benchmark name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from benchmarks.eval.dataset import EvalDataError, Row

__all__ = ["BENCHMARKS", "STRONG", "WEAK", "Counts", "routellm_rows"]

STRONG: Final = "gpt-4-1106-preview"
WEAK: Final = "mixtral-8x7b-instruct-v0.1"
# benchmark -> (file under DIR, the field holding the prompt the quality head was trained on)
BENCHMARKS: Final[dict[str, tuple[str, str]]] = {
    "mmlu": ("mmlu/mmlu_strong_weak_labels.jsonl", "prompt"),
    "gsm8k": ("gsm8k/gsm8k_strong_weak_labels.jsonl", "question"),
}


@dataclass(frozen=True)
class Counts:
    """How many rows of one benchmark were read, dropped (and why) and kept."""

    benchmark: str
    total: int
    contaminated: int
    training_side: int
    kept: int

    def as_dict(self) -> dict[str, int | str]:
        return {"benchmark": self.benchmark, "total": self.total, "dropped_contaminated": self.contaminated,
                "dropped_training_side": self.training_side, "kept_held_out": self.kept}


def routellm_rows(folder: Path, benchmarks: Sequence[str],
                  held_out: Callable[[str], bool]) -> tuple[list[Row], list[Counts]]:
    """Held-out, uncontaminated rows of `benchmarks` under `folder`, and the counts per benchmark."""
    rows: list[Row] = []
    counts: list[Counts] = []
    for name in benchmarks:
        if name not in BENCHMARKS:
            raise EvalDataError(f"unknown benchmark {name!r}; known: {sorted(BENCHMARKS)}")
        kept, count = _benchmark_rows(folder, name, held_out)
        rows += kept
        counts.append(count)
    return rows, counts


def _benchmark_rows(folder: Path, name: str, held_out: Callable[[str], bool]) -> tuple[list[Row], Counts]:
    relative, field = BENCHMARKS[name]
    path = folder / relative
    total = contaminated = training = 0
    kept: list[Row] = []
    for number, record in _records(path):
        total += 1
        if record.get("contaminated_in_routellm_train"):
            contaminated += 1
            continue
        prompt = _field(record, field, f"{path}:{number}")
        if not held_out(prompt):
            training += 1
            continue
        kept.append(Row(id=f"{name}:{number}", prompt=prompt, category=name,
                        scores={STRONG: _correct(record, "strong_correct", path, number),
                                WEAK: _correct(record, "weak_correct", path, number)}))
    return kept, Counts(name, total, contaminated, training, len(kept))


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise EvalDataError(f"{path}: cannot read ({exc.strerror or exc}); --routellm-dir must be the "
                            "shared routing data folder (the one with mmlu/ and gsm8k/)") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EvalDataError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc


def _field(record: dict[str, Any], name: str, where: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value.strip():
        raise EvalDataError(f"{where}: missing the prompt field {name!r}")
    return value


def _correct(record: dict[str, Any], name: str, path: Path, number: int) -> float:
    value = record.get(name)
    if not isinstance(value, bool):
        raise EvalDataError(f"{path}:{number}: {name!r} must be true or false")
    return 1.0 if value else 0.0
