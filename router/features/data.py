"""Training rows read from the shared routing data (../shared/data/routing, see its SOURCES.md).

Training-time only; nothing here is copied into the project. Category rows come from
`router_prompts_index.jsonl.gz` (rows with a null `router_category` dropped, and its MMLU rows replaced
by the MMLU-Pro, MATH level 5 and CRUXEval rows of `multimodel/`, whose embeddings the quality model
needs anyway) plus the project-authored seed prompts; quality rows come from the MMLU and GSM8K
strong/weak labels, without the prompts found in RouteLLM's training data.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from models.categories import CATEGORIES

__all__ = ["SEED_PROMPTS", "Row", "category_rows", "quality_rows", "read_jsonl"]

SEED_PROMPTS: Final = Path(__file__).with_name("seed_prompts.jsonl")


@dataclass(frozen=True)
class Row:
    """One training example: the prompt, its label (category name or 0/1) and where it came from."""

    text: str
    label: str
    source: str


MULTIMODEL_SOURCES: Final = {"MMLU-Pro": "mmlu_pro", "ZeroEval/math_level5": "math_l5",
                              "ZeroEval/cruxeval_o": "cruxeval_o"}


def category_rows(data: Path, seeds: Path = SEED_PROMPTS) -> list[Row]:
    """Index rows with a category (MMLU replaced by the multimodel rows), then the seed prompts.

    BFCL's `irrelevance` rows (should_call_tool false: plain maths and facts questions where no tool
    fits) are left out: their `tool_use` label describes the tool list they came with, not the text."""
    rows = [Row(r["prompt"], r["router_category"], r["source"])
            for r in read_jsonl(data / "router_prompts_index.jsonl.gz")
            if r.get("router_category") and r["source"] != "mmlu" and r.get("should_call_tool") is not False]
    rows += [Row(r["prompt"], r["category"], MULTIMODEL_SOURCES[r["source"]])
             for r in read_jsonl(data / "multimodel" / "routing_multimodel.jsonl.gz")
             if r["source"] in MULTIMODEL_SOURCES]
    if seeds.is_file():
        rows += [Row(r["prompt"], r["category"], "seed") for r in read_jsonl(seeds)]
    unknown = {r.label for r in rows} - set(CATEGORIES)
    if unknown:
        raise ValueError(f"labels not in models.categories.CATEGORIES: {sorted(unknown)}")
    return rows


def quality_rows(data: Path) -> list[Row]:
    """MMLU and GSM8K rows labelled "1" when the weak model is as good as the strong one."""
    sources = (("mmlu", data / "mmlu" / "mmlu_strong_weak_labels.jsonl", "prompt"),
               ("gsm8k", data / "gsm8k" / "gsm8k_strong_weak_labels.jsonl", "question"))
    return [Row(r[field], _weak_ok(r), name)
            for name, path, field in sources for r in read_jsonl(path)
            if not r.get("contaminated_in_routellm_train")]


def _weak_ok(row: dict[str, Any]) -> str:
    return "1" if row["weak_correct"] or not row["strong_correct"] else "0"


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSON-lines file (gzipped when it ends in .gz), blank lines skipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
