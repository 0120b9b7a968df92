"""Load steps and their arrival schedules: constant rate, Poisson arrivals, or a fixed concurrency.

A rate step sends request i at a planned offset from the step's start: i / rate (constant), or the sum of
i exponential gaps of mean 1/rate (Poisson, seeded; request 0 at once). A concurrency step keeps N
requests in flight: each worker sends its next request when its last one ends. `parse_sweep` reads
`rate:1,2,4` or `concurrency:1,4,16`.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = ["Mode", "Step", "SweepError", "arrival_offsets", "parse_sweep"]

Mode = Literal["constant", "poisson", "concurrency"]
MODES: tuple[Mode, ...] = ("constant", "poisson", "concurrency")


class SweepError(ValueError):
    """A load specification that cannot be parsed (the message says what is accepted)."""


@dataclass(frozen=True)
class Step:
    """One load level: requests/s for the rate modes, requests in flight for `concurrency`."""

    mode: Mode
    value: float

    @property
    def label(self) -> str:
        unit = "in flight" if self.mode == "concurrency" else "req/s"
        return f"{self.mode} {self.value:g} {unit}"

    @property
    def load_axis(self) -> str:
        return "concurrency" if self.mode == "concurrency" else "rate (req/s)"


def arrival_offsets(step: Step, seed: int) -> Iterator[float]:
    """Planned send times in seconds from the step's start (rate modes only; endless)."""
    if step.mode == "concurrency":
        raise ValueError("a concurrency step has no arrival schedule")
    if step.mode == "constant":
        return (i / step.value for i in itertools.count())
    rng = random.Random(seed)
    # The first request goes at once, as in vLLM's benchmark_serving; then exponential gaps.
    gaps = itertools.chain([0.0], (rng.expovariate(step.value) for _ in itertools.count()))
    return itertools.accumulate(gaps)


def parse_sweep(text: str, rate_mode: Mode = "poisson") -> list[Step]:
    """`rate:1,2,4` (sent with `rate_mode`, constant or poisson) or `concurrency:1,4,16`."""
    kind, _, values = text.partition(":")
    if kind not in ("rate", "concurrency") or not values:
        raise SweepError(f"bad sweep {text!r}: expected rate:R1,R2,... or concurrency:C1,C2,...")
    try:
        numbers = [float(v) for v in values.split(",")]
    except ValueError:
        raise SweepError(f"bad sweep {text!r}: the values must be numbers") from None
    if kind == "concurrency":
        if any(n < 1 or n != int(n) for n in numbers):
            raise SweepError(f"bad sweep {text!r}: concurrencies must be whole numbers >= 1")
        return [Step("concurrency", n) for n in numbers]
    if any(n <= 0 for n in numbers):
        raise SweepError(f"bad sweep {text!r}: rates must be positive")
    if rate_mode == "concurrency":
        raise SweepError("a rate sweep needs --arrival constant or poisson")
    return [Step(rate_mode, n) for n in numbers]
