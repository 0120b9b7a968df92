"""`ModelDescriptor`: what the quality model needs to know of a model, without having seen it in training.

One ability per task category (CATEGORIES order) on the quality model's scale, and for each category
where that number came from: `measured:<name>` (fitted on the training outcomes of that model) or
`published` (mapped from the model's benchmark score in models/quality.yaml by `AbilityScale`).
Family and size are carried for explanations; the prediction uses the abilities alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from models.categories import CATEGORIES

__all__ = ["ModelDescriptor", "family_of", "size_of"]

_SIZE: Final = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)([mb])(?![a-z])", re.IGNORECASE)


@dataclass(frozen=True)
class ModelDescriptor:
    """A model's per-category abilities and where each came from."""

    model_id: str
    ability: tuple[float, ...]
    basis: tuple[str, ...]
    family: str | None = None
    size_b: float | None = None

    def __post_init__(self) -> None:
        if len(self.ability) != len(CATEGORIES) or len(self.basis) != len(CATEGORIES):
            raise ValueError(f"{self.model_id}: descriptor needs one ability and basis per category")

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model_id, "family": self.family, "size_b": self.size_b,
                "ability": {c: round(t, 4) for c, t in zip(CATEGORIES, self.ability, strict=True)},
                "basis": dict(zip(CATEGORIES, self.basis, strict=True))}


def size_of(model_id: str) -> float | None:
    """Parameter count in billions read from an id such as `gemma-3-270m` or `gpt-oss-20b`, else None."""
    match = _SIZE.search(model_id.rsplit("/", 1)[-1])
    if match is None:
        return None
    value = float(match.group(1))
    return value / 1000.0 if match.group(2).lower() == "m" else value


def family_of(model_id: str) -> str:
    """The id's name without provider prefix, size and suffixes: `openai/gpt-4.1` -> `gpt`."""
    name = model_id.rsplit("/", 1)[-1].lower()
    return re.split(r"[-_.\d]", name, maxsplit=1)[0] or name
