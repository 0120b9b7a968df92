"""`PromptProfile`: what the quality model knows of a prompt, a few floats and no text.

The ability a prompt calls for is a mix of the model's per-category abilities, weighted by the
category head's probabilities. `tool_use` is left out of that mix unless the request carries tools:
the category head reads "function-call-like" phrasing from text alone, and a model's tool-calling
score (tau-bench) says nothing about a plain question that merely looks like one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from models.categories import CATEGORIES

__all__ = ["TOOL_SHARE", "PromptProfile", "mixed_ability"]

TOOL_INDEX: Final = CATEGORIES.index("tool_use")
TOOL_SHARE: Final = 0.5  # weight of the tool_use ability when the request has tools


@dataclass(frozen=True)
class PromptProfile:
    """Difficulty and discrimination on the ability scale, and category weights in CATEGORIES order."""

    difficulty: float
    discrimination: float
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.weights) != len(CATEGORIES):
            raise ValueError(f"profile needs {len(CATEGORIES)} category weights, got {len(self.weights)}")

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict (floats rounded to 4 places)."""
        return {"difficulty": round(self.difficulty, 4), "discrimination": round(self.discrimination, 4),
                "category_weights": {c: round(w, 4) for c, w in zip(CATEGORIES, self.weights, strict=True)}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PromptProfile:
        weights = data["category_weights"]
        return cls(float(data["difficulty"]), float(data["discrimination"]),
                   tuple(float(weights[c]) for c in CATEGORIES))


def mixed_ability(weights: Sequence[float], ability: Sequence[float], *, needs_tools: bool = False) -> float:
    """The ability a prompt with category `weights` calls for, from per-category `ability`."""
    total = 0.0
    mixed = 0.0
    for k, (w, theta) in enumerate(zip(weights, ability, strict=True)):
        if k != TOOL_INDEX:
            total += w
            mixed += w * theta
    mixed = mixed / total if total > 0.0 else sum(ability) / len(ability)
    if needs_tools:
        return (1.0 - TOOL_SHARE) * mixed + TOOL_SHARE * ability[TOOL_INDEX]
    return mixed
