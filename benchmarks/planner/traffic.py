"""The traffic profile `stellwerk plan` sizes for: load over the day, request shapes, tasks and SLOs.

YAML (see benchmarks/planner/examples/traffic.yaml):

    name: support-assistant
    hourly_requests_per_s: [24 numbers, hour 0..23]
    days_per_month: 30
    lengths: [{input_tokens: 600, output_tokens: 250, share: 0.8}, ...]   # shares sum to 1
    task_mix: {chit_chat: 0.2, coding: 0.3, ...}                           # categories, sum to 1
    hard_share: 0.1        # share of knowledge/math/reasoning prompts the estimator finds hard
    slo: {ttft_p95_ms: 2000, tpot_p50_ms: 100}
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchmarks.cost.yaml_file import load_yaml_model
from models.categories import CATEGORIES

__all__ = ["LengthShare", "Slo", "TrafficProfile", "load_traffic"]

_SUM_TOLERANCE = 1e-6


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LengthShare(_Strict):
    input_tokens: float = Field(gt=0)
    output_tokens: float = Field(gt=0)
    share: float = Field(gt=0, le=1)


class Slo(_Strict):
    """Latency objectives a replica must meet at its planned load (None: not constrained)."""

    ttft_p95_ms: float | None = Field(default=None, gt=0)
    tpot_p50_ms: float | None = Field(default=None, gt=0)
    tpot_p95_ms: float | None = Field(default=None, gt=0)


class TrafficProfile(_Strict):
    name: str = "traffic"
    hourly_requests_per_s: list[float] = Field(min_length=24, max_length=24,
                                               description="Mean requests/s in each hour of the day.")
    days_per_month: float = Field(default=30, gt=0)
    lengths: list[LengthShare] = Field(min_length=1)
    task_mix: dict[str, float] = Field(min_length=1, description="Category -> share of requests.")
    hard_share: float = Field(default=0.1, ge=0, le=1, description=(
        "Share of prompts in the objective's hard categories that the quality estimator finds hard "
        "(they need the higher quality floor). ~0.1 for exam-style traffic (router model card)."))
    slo: Slo = Field(default_factory=Slo)

    @model_validator(mode="after")
    def _shares(self) -> TrafficProfile:
        if any(r < 0 for r in self.hourly_requests_per_s):
            raise ValueError("hourly_requests_per_s: rates must be >= 0")
        unknown = sorted(set(self.task_mix) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"task_mix: unknown categories {unknown}; known: {', '.join(CATEGORIES)}")
        for field, total in (("lengths", sum(x.share for x in self.lengths)),
                             ("task_mix", sum(self.task_mix.values()))):
            if not math.isclose(total, 1.0, abs_tol=_SUM_TOLERANCE):
                raise ValueError(f"{field}: shares must sum to 1, not {total:g}")
        return self

    @property
    def peak_rps(self) -> float:
        return max(self.hourly_requests_per_s)

    @property
    def mean_input_tokens(self) -> float:
        return sum(x.share * x.input_tokens for x in self.lengths)

    @property
    def mean_output_tokens(self) -> float:
        return sum(x.share * x.output_tokens for x in self.lengths)

    @property
    def requests_per_day(self) -> float:
        return sum(r * 3600 for r in self.hourly_requests_per_s)

    def scaled(self, factor: float) -> TrafficProfile:
        """The same profile with every hour's rate multiplied by `factor`."""
        return self.model_copy(update={"hourly_requests_per_s": [r * factor for r in
                                                                 self.hourly_requests_per_s]})


def load_traffic(path: Path) -> TrafficProfile:
    """Read and validate a traffic profile."""
    return load_yaml_model(path, TrafficProfile, "traffic profile")
