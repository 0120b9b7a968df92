"""Token-length distributions for synthetic prompts and answers: `128`, `uniform:64,256`, `normal:128,32`.

Lengths are in tokens. Prompts are built from common English words that tokenizers keep whole, so one word
is about one token (the measured `prompt_tokens` of each request is recorded next to the requested length,
so the approximation is visible in the results).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

__all__ = ["LengthDist", "LengthSpecError", "parse_length"]

Kind = Literal["fixed", "uniform", "normal"]


class LengthSpecError(ValueError):
    """A length specification that cannot be parsed (the message says what is accepted)."""


@dataclass(frozen=True)
class LengthDist:
    """A distribution of lengths in tokens; `sample` never returns less than 1."""

    kind: Kind
    a: int  # fixed: the length; uniform: low bound; normal: mean
    b: int = 0  # uniform: high bound (inclusive); normal: standard deviation

    def sample(self, rng: random.Random) -> int:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.randint(self.a, self.b)
        return max(1, round(rng.gauss(self.a, self.b)))

    @property
    def mean(self) -> float:
        return (self.a + self.b) / 2 if self.kind == "uniform" else float(self.a)

    def __str__(self) -> str:
        return str(self.a) if self.kind == "fixed" else f"{self.kind}:{self.a},{self.b}"


_USAGE = "expected N, uniform:LOW,HIGH or normal:MEAN,STDDEV (positive whole numbers of tokens)"


def parse_length(text: str) -> LengthDist:
    """Parse `N`, `fixed:N`, `uniform:LOW,HIGH` or `normal:MEAN,STDDEV`."""
    kind, _, rest = text.strip().partition(":")
    if not rest:
        kind, rest = "fixed", kind
    try:
        numbers = [int(x) for x in rest.split(",")]
    except ValueError:
        raise LengthSpecError(f"bad length {text!r}: {_USAGE}") from None
    if kind == "fixed" and len(numbers) == 1 and numbers[0] >= 1:
        return LengthDist("fixed", numbers[0])
    if kind == "uniform" and len(numbers) == 2 and 1 <= numbers[0] <= numbers[1]:
        return LengthDist("uniform", numbers[0], numbers[1])
    if kind == "normal" and len(numbers) == 2 and numbers[0] >= 1 and numbers[1] >= 0:
        return LengthDist("normal", numbers[0], numbers[1])
    raise LengthSpecError(f"bad length {text!r}: {_USAGE}")
