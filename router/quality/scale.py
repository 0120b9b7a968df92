"""`AbilityScale`: a benchmark score (a share of questions answered right) -> an ability.

For each category the training run keeps a sample of its prompts' (discrimination, difficulty). A score
s maps to the ability theta at which the model would answer a share s of those prompts right (the test
characteristic curve, inverted by bisection), plus the category's offset. The offset says how much
harder the published benchmark of that column (models/quality.yaml: MMLU, MATH, HumanEval, ...) is than
the training prompts; it is calibrated on models that are in both (see the model card). Scores for
the training data's own benchmarks use offset 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["SCORE_CEILING", "SCORE_FLOOR", "AbilityScale"]

SCORE_FLOOR: Final = 0.02
SCORE_CEILING: Final = 0.98
_LOW: Final = -12.0
_HIGH: Final = 12.0


@dataclass(frozen=True)
class AbilityScale:
    """Reference pools (K x R x 2: discrimination, difficulty) and per-category offsets (K)."""

    pools: npt.NDArray[np.float32]
    offsets: npt.NDArray[np.float32]

    def raw_ability(self, category: int, score: float) -> float:
        """Ability that answers a share `score` of category `category`'s reference prompts (no offset)."""
        target = min(max(score, SCORE_FLOOR), SCORE_CEILING)
        a = self.pools[category, :, 0].astype(np.float64)
        d = self.pools[category, :, 1].astype(np.float64)
        low, high = _LOW, _HIGH
        for _ in range(50):
            mid = (low + high) / 2.0
            share = float(np.mean(1.0 / (1.0 + np.exp(-a * (mid - d)))))
            low, high = (mid, high) if share < target else (low, mid)
        return (low + high) / 2.0

    def ability(self, category: int, score: float) -> float:
        """Ability for a published score in `category` (offset applied)."""
        return self.raw_ability(category, score) + float(self.offsets[category])

    def expected_score(self, category: int, ability: float) -> float:
        """Share of the reference prompts answered right at `ability` (offset removed)."""
        theta = ability - float(self.offsets[category])
        a = self.pools[category, :, 0].astype(np.float64)
        d = self.pools[category, :, 1].astype(np.float64)
        return float(np.mean(1.0 / (1.0 + np.exp(-a * (theta - d)))))


def logistic(z: float) -> float:
    """Overflow-safe sigmoid for one float."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
