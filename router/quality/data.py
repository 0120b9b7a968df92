"""Training data for the quality model, read from ../shared/data/routing (training time only).

- `outcome_rows`: per-prompt 0/1 outcomes of many models (multimodel/routing_multimodel.jsonl.gz), plus
  the GSM8K strong/weak labels (GPT-4-1106 and Mixtral-8x7B, 8-shot) as two more "models", only for
  prompts that are also in the multimodel development rows (never for prompts the maintainers hold
  back, whose text also sits in the GSM8K file).
- `anchor_rows`: unlabelled prompts used as weak supervision on difficulty: trivial ones (the
  project's seed chit-chat, short factual and arithmetic prompts) and hard ones (Arena-Hard v0.1/v2).
- `model_prices`: USD per 1M input/output tokens per model, parsed from multimodel/MODELS.md.
Nothing here is copied into the project.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from router.features.data import SEED_PROMPTS
from router.features.data import read_jsonl as _jsonl

__all__ = ["AnchorRow", "OutcomeRow", "anchor_rows", "model_info", "outcome_rows"]

MULTIMODEL: Final = Path("multimodel") / "routing_multimodel.jsonl.gz"
MODELS_MD: Final = Path("multimodel") / "MODELS.md"
GSM8K_TWO_MODEL: Final = Path("gsm8k") / "gsm8k_strong_weak_labels.jsonl"
ROUTELLM_STRONG: Final = "routellm:gpt-4-1106-preview"
ROUTELLM_WEAK: Final = "routellm:Mixtral-8x7B-Instruct-v0.1"
# Seed categories that are trivial for any chat model; plus short seed prompts of these categories.
_TRIVIAL_SEEDS: Final = frozenset({"chit_chat"})
_SHORT_SEEDS: Final = frozenset({"knowledge", "math"})
_SHORT_CHARS: Final = 60
_NOT_TRIVIAL: Final = re.compile(r"\b(prove|show|integral|find all|ways)\b", re.IGNORECASE)


@dataclass(frozen=True)
class OutcomeRow:
    """One prompt with the 0/1 outcome of each model that was scored on it."""

    text: str
    source: str
    category: str
    scores: dict[str, int]


@dataclass(frozen=True)
class AnchorRow:
    """An unlabelled prompt whose difficulty is known to be at most easy (`easy`) or at least hard."""

    text: str
    kind: str   # "easy" or "hard"
    source: str


def outcome_rows(data: Path) -> list[OutcomeRow]:
    rows = [OutcomeRow(r["prompt"], r["source"], r["category"], dict(r["scores"]))
            for r in _jsonl(data / MULTIMODEL)]
    by_text = {_norm(r.text): r for r in rows if r.source == "ZeroEval/gsm8k"}
    for r in _jsonl(data / GSM8K_TWO_MODEL):
        row = by_text.get(_norm(r["question"]))
        if row is not None and not r.get("contaminated_in_routellm_train"):
            row.scores[ROUTELLM_STRONG] = int(bool(r["strong_correct"]))
            row.scores[ROUTELLM_WEAK] = int(bool(r["weak_correct"]))
    return rows


def anchor_rows(data: Path, seeds: Path = SEED_PROMPTS) -> list[AnchorRow]:
    rows = []
    for r in _jsonl(seeds):
        short = (r["category"] in _SHORT_SEEDS and len(r["prompt"]) <= _SHORT_CHARS
                 and not _NOT_TRIVIAL.search(r["prompt"]))
        if r["category"] in _TRIVIAL_SEEDS or short:
            rows.append(AnchorRow(r["prompt"], "easy", "seed"))
    for name in ("arena-hard-v2.0_question.jsonl", "arena-hard-v0.1_question.jsonl"):
        rows += [AnchorRow(r["prompt"], "hard", name.split("_")[0])
                 for r in _jsonl(data / "arena_hard" / name)]
    return rows


def model_info(data: Path) -> dict[str, dict[str, Any]]:
    """Model -> {family, size_b, price_in, price_out} from MODELS.md's table (prices None where n/a)."""
    info: dict[str, dict[str, Any]] = {}
    for line in (data / MODELS_MD).read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 10 or not cells[0].startswith("`"):
            continue
        size = re.match(r"([\d.]+)B", cells[2])
        info[cells[0].strip("`")] = {"family": cells[1], "size_b": float(size.group(1)) if size else None,
                                     "price_in": _price(cells[8]), "price_out": _price(cells[9])}
    return info


def _price(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())
