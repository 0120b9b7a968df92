"""Performance profiles: what one replica of a model delivers on one kind of hardware, by concurrency.

A profile is data (YAML under benchmarks/profiles/ or built from `stellwerk bench` results) and says
where it came from: `provenance: measured` (run by us, machine and date given) or `published` (figures
read from a publication, with its URL; never measured here). Each point is one closed-loop load level:
`concurrency` requests kept in flight, the output tokens/s the replica produced, and TTFT / TPOT
percentiles in milliseconds at that level, for the profile's `workload` (mean input and output tokens).
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchmarks.cost.yaml_file import DataFileError, load_yaml_model

__all__ = ["DEFAULT_PROFILES_DIR", "Latency", "PerformanceProfile", "ProfilePoint", "Workload",
           "load_profile", "load_profiles"]

DEFAULT_PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latency(_Strict):
    """Percentiles of one latency metric in milliseconds (p95 None: not published/measured)."""

    p50: float = Field(ge=0)
    p95: float | None = Field(default=None, ge=0)

    def at(self, percentile: Literal[50, 95]) -> float:
        """The requested percentile; p95 falls back to p50 when unknown (optimistic: say so in reports)."""
        return self.p95 if percentile == 95 and self.p95 is not None else self.p50


class ProfilePoint(_Strict):
    """One load level of one replica."""

    concurrency: float = Field(gt=0, description="Requests kept in flight.")
    output_tokens_per_s: float = Field(gt=0, description="Output tokens per second, all requests together.")
    ttft_ms: Latency
    tpot_ms: Latency


class Workload(_Strict):
    """The request shape the points were measured with."""

    input_tokens: float = Field(gt=0)
    output_tokens: float = Field(gt=0)


class PerformanceProfile(_Strict):
    """One model on one hardware unit: sourced load points, sorted by concurrency."""

    model: str = Field(description="Catalogue id of the model.")
    hardware: str = Field(description="Hardware id in the hardware prices file.")
    units_per_replica: int = Field(default=1, ge=1, description="GPUs (or nodes) one replica uses.")
    provenance: Literal["measured", "published"]
    source: str = Field(min_length=1, description="Where the figures come from: URL, or command + machine.")
    as_of: dt.date
    engine: str = Field(default="", description="Serving engine and settings, e.g. 'vLLM 0.21, fp16'.")
    notes: str = ""
    workload: Workload
    input_token_weight: float = Field(
        default=0.1, ge=0, le=1,
        description="Replica time of one prompt token relative to one output token (prefill is batched "
                    "and far cheaper per token than decode). Converts other length mixes to this one.")
    points: list[ProfilePoint] = Field(min_length=1)

    @model_validator(mode="after")
    def _sorted(self) -> PerformanceProfile:
        levels = [p.concurrency for p in self.points]
        if any(b <= a for a, b in itertools.pairwise(levels)):
            raise ValueError(f"points must have strictly increasing concurrency, got {levels}")
        return self

    @property
    def label(self) -> str:
        return f"{self.model} on {self.units_per_replica}x {self.hardware} ({self.provenance})"

    def work_per_request(self, input_tokens: float, output_tokens: float) -> float:
        """Replica work of one request in output-token equivalents."""
        return output_tokens + self.input_token_weight * input_tokens


def load_profile(path: Path) -> PerformanceProfile:
    """Read and validate one profile file."""
    return load_yaml_model(path, PerformanceProfile, "performance profile")


def load_profiles(paths: list[Path]) -> dict[str, PerformanceProfile]:
    """Profiles by model id from files and folders (every *.yaml in a folder); one profile per model."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    profiles: dict[str, PerformanceProfile] = {}
    for file in files:
        profile = load_profile(file)
        if profile.model in profiles:
            raise DataFileError(f"{file}: a second profile for {profile.model!r}; pass one per model "
                                "(--profile FILE) to choose")
        profiles[profile.model] = profile
    return profiles
