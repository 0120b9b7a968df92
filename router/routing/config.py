"""The routing configuration: objectives, spillover, latency priors, fallback and a global policy.

It is a YAML file (the shipped default is `default.yaml` next to this module; `stellwerk serve
--routing-config PATH` names another), validated strictly: unknown fields are errors, and every error
names the file, the field and the line. `ConfigHolder` (see `reload.py`) swaps in a new version when the
file changes; a `RoutingConfig` object itself is immutable, so a request keeps the version it started with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.catalogue import ModelEntry
from models.categories import CATEGORIES
from models.yaml_config import parse_yaml_model, read_yaml_model

__all__ = [
    "DEFAULT_ROUTING_CONFIG_PATH",
    "BestQualityObjective",
    "CheapestObjective",
    "FallbackConfig",
    "GlobalPolicy",
    "LatencyPriors",
    "LocalOnlyObjective",
    "Objective",
    "RoutingConfig",
    "RoutingConfigError",
    "SpilloverConfig",
    "load_routing_config",
    "parse_routing_config",
]

DEFAULT_ROUTING_CONFIG_PATH = Path(__file__).with_name("default.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheapestObjective(_Strict):
    """The cheapest model whose expected quality meets the floor and whose predicted TTFT meets the
    target. Hard prompts (quality estimator's p_weak_ok below `hard_threshold`) use the higher floor."""

    type: Literal["cheapest"]
    quality_floor: float = Field(default=0.5, ge=0, le=1)
    hard_quality_floor: float = Field(default=0.8, ge=0, le=1)
    hard_threshold: float = Field(default=0.65, ge=0, le=1,
                                  description="p_weak_ok below this makes a prompt 'hard'.")
    hard_categories: frozenset[str] | None = Field(
        default=frozenset({"knowledge", "math", "reasoning"}),
        description="Categories where the quality estimator is trusted (it learned from exam questions "
                    "and maths problems); None: every category.")
    ttft_target_s: float | None = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _floors_ordered(self) -> CheapestObjective:
        if self.hard_quality_floor < self.quality_floor:
            raise ValueError("hard_quality_floor must be at least quality_floor")
        unknown = (self.hard_categories or frozenset()) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown hard_categories {sorted(unknown)}; "
                         f"categories are {', '.join(CATEGORIES)}")
        return self


class BestQualityObjective(_Strict):
    """The highest expected quality whose estimated cost fits the per-request budget."""

    type: Literal["best-quality"]
    budget_per_request: float = Field(default=0.05, gt=0, description="In the models' currency.")
    ttft_target_s: float | None = Field(default=None, gt=0)


class LocalOnlyObjective(_Strict):
    """Only models on our own machines; never spills over (requests queue instead)."""

    type: Literal["local-only"]


Objective = Annotated[CheapestObjective | BestQualityObjective | LocalOnlyObjective,
                      Field(discriminator="type")]


class SpilloverConfig(_Strict):
    """Hysteresis for leaving and returning to a local model under load."""

    return_ratio: float = Field(default=0.7, gt=0, le=1,
                                description="Return when predicted TTFT < target * return_ratio ...")
    min_dwell_s: float = Field(default=5.0, ge=0, description="... and the spill lasted this long.")
    gpu_busy_pct: float | None = Field(
        default=95.0, gt=0, le=100,
        description="A local GPU model also spills while every GPU is at least this busy (NVML) and its "
                    "engine has requests waiting; None: GPUs are not consulted.")


class LatencyPriors(_Strict):
    """Starting points for the TTFT model, until requests have been measured.

    Predicted TTFT of a model = base + queued * per_request, where `queued` is the number of requests
    already running or waiting on it (read from the engines, or the router's own count if higher).
    Measured TTFTs move both numbers (exponentially weighted, weight `learning_rate` per request).
    """

    local_base_ttft_s: float = Field(default=0.5, gt=0)
    local_per_request_s: float = Field(default=0.25, ge=0)
    remote_base_ttft_s: float = Field(default=1.0, gt=0)
    learning_rate: float = Field(default=0.2, gt=0, le=1)
    per_model: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="model id → (base_ttft_s, per_request_s) priors.")


class FallbackConfig(_Strict):
    max_attempts: int = Field(default=3, ge=1, le=10,
                              description="Candidates tried for one `auto` request before giving up.")
    failure_threshold: int = Field(default=3, ge=1,
                                   description="Consecutive failures that mark a model unhealthy ...")
    cooldown_s: float = Field(default=30.0, ge=0, description="... for this long.")


class GlobalPolicy(_Strict):
    """Rules for every request (tenant rules add to these; they never loosen them)."""

    deny_providers: frozenset[str] = frozenset()
    deny_models: frozenset[str] = frozenset()
    allowed_jurisdictions: frozenset[str] | None = Field(
        default=None, description="None: any; else e.g. [on-prem, EU].")
    allow_leaving_premises: bool = True

    def reject_reason(self, entry: ModelEntry) -> str | None:
        """Why this policy forbids `entry`, or None if it allows it."""
        if entry.provider in self.deny_providers:
            return f"provider {entry.provider!r} is denied by policy"
        if entry.id in self.deny_models:
            return f"model {entry.id!r} is denied by policy"
        if (self.allowed_jurisdictions is not None
                and entry.residency.jurisdiction not in self.allowed_jurisdictions):
            return f"jurisdiction {entry.residency.jurisdiction!r} is not allowed by policy"
        if not self.allow_leaving_premises and entry.residency.leaves_premises:
            return "prompts may not leave the premises"
        return None


class RoutingConfig(_Strict):
    default_objective: str = "balanced"
    objectives: dict[str, Objective] = Field(min_length=1)
    expected_output_tokens: int = Field(
        default=256, ge=1, description="Output length assumed for cost when the request sets none.")
    spillover: SpilloverConfig = Field(default_factory=SpilloverConfig)
    latency: LatencyPriors = Field(default_factory=LatencyPriors)
    fallback: FallbackConfig = Field(default_factory=FallbackConfig)
    policy: GlobalPolicy = Field(default_factory=GlobalPolicy)
    decision_log: Path | None = Field(default=None, description="JSON-lines file of every decision.")

    @model_validator(mode="after")
    def _default_exists(self) -> RoutingConfig:
        if self.default_objective not in self.objectives:
            raise ValueError(f"default_objective {self.default_objective!r} is not one of the objectives "
                             f"({', '.join(sorted(self.objectives))})")
        return self

    def objective(self, name: str | None) -> tuple[str, Objective]:
        """The named objective (the default when `name` is None); KeyError for an unknown name."""
        key = name or self.default_objective
        return key, self.objectives[key]


class RoutingConfigError(ValueError):
    """A routing configuration that cannot be used; the message names the file, field and line."""


def load_routing_config(path: Path = DEFAULT_ROUTING_CONFIG_PATH) -> RoutingConfig:
    return read_yaml_model(path, RoutingConfig, what="routing configuration", error=RoutingConfigError,
                           hidden=_UNION_TAGS)


def parse_routing_config(text: str, path: Path) -> RoutingConfig:
    return parse_yaml_model(text, path, RoutingConfig, what="routing configuration", error=RoutingConfigError,
                            hidden=_UNION_TAGS)


# pydantic names a discriminated union's member in error locations; YAML has no such key.
_UNION_TAGS = frozenset({"cheapest", "best-quality", "local-only"})
