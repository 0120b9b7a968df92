"""The routing configuration: objectives, spillover, latency priors, fallback and a global policy.

It is a YAML file (the shipped default is `default.yaml` next to this module; `stellwerk serve
--routing-config PATH` names another), validated strictly: unknown fields are errors, and every error
names the file, the field and the line. `ConfigHolder` (see `reload.py`) swaps in a new version when the
file changes; a `RoutingConfig` object itself is immutable, so a request keeps the version it started with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.catalogue import ModelEntry
from models.yaml_config import parse_yaml_model, read_yaml_model
from router.routing.objectives import OBJECTIVE_TYPES, Objective

__all__ = [
    "DEFAULT_ROUTING_CONFIG_PATH",
    "FallbackConfig",
    "FrontierBudgetConfig",
    "GlobalPolicy",
    "LatencyPriors",
    "RoutingConfig",
    "RoutingConfigError",
    "ScaleUpConfig",
    "SessionConfig",
    "SpilloverConfig",
    "load_routing_config",
    "parse_routing_config",
]

DEFAULT_ROUTING_CONFIG_PATH = Path(__file__).with_name("default.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpilloverConfig(_Strict):
    """Hysteresis for leaving and returning to a local model under load."""

    return_ratio: float = Field(default=0.7, gt=0, le=1,
                                description="Return when predicted TTFT < target * return_ratio ...")
    min_dwell_s: float = Field(default=5.0, ge=0, description="... and the spill lasted this long.")
    gpu_busy_pct: float | None = Field(
        default=95.0, gt=0, le=100,
        description="A local GPU model also spills while every GPU is at least this busy (NVML) and its "
                    "engine has requests waiting; None: GPUs are not consulted.")


class ScaleUpConfig(_Strict):
    """Requests that only a local pool scaling up from zero may serve (a tenant whose prompts stay on
    the premises, the local-only objective): how long they wait for its first ready replica. Requests
    that may go elsewhere do not wait (they spill at once)."""

    max_wait_s: float = Field(
        default=30.0, ge=0, le=600,
        description="Longest wait; keep it under the load balancer's request timeout. 0: 503 at once. A "
                    "client's own limit (x-stellwerk-max-wait, or half its SDK's timeout) can shorten it.")
    retry_after_s: float = Field(default=10.0, gt=0,
                                 description="Retry-After of the 503 sent when no replica was ready in time.")


_Positive = Annotated[float, Field(gt=0)]
_NonNegative = Annotated[float, Field(ge=0)]


class LatencyPriors(_Strict):
    """Starting points for the TTFT model, until requests have been measured.

    Predicted TTFT of a model = base + queued * per_request + prompt_tokens * per_prompt_token, where
    `queued` is the number of requests already running or waiting on it (read from the engines, or the
    router's own count if higher). Measured TTFTs move all three (weight `learning_rate` per request;
    see `router.routing.ttft`).
    """

    local_base_ttft_s: float = Field(default=0.5, gt=0)
    local_per_request_s: float = Field(default=0.25, ge=0)
    remote_base_ttft_s: float = Field(default=1.0, gt=0)
    per_prompt_token_s: float = Field(default=0.0, ge=0,
                                      description="Prefill seconds per prompt token, before any is measured.")
    learning_rate: float = Field(default=0.2, gt=0, le=1)
    per_model: dict[str, tuple[_Positive, _NonNegative] | tuple[_Positive, _NonNegative, _NonNegative]] = (
        Field(
            default_factory=dict,
            description="model id → (base_ttft_s, per_request_s[, per_prompt_token_s]) priors."))


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


class FrontierBudgetConfig(_Strict):
    """A cap on what goes to frontier models: a share of requests and/or spend per hour.

    The router holds it online (router/routing/budget.py): it raises a price on frontier models until
    the recent share (or spend rate) is back at the target, so the budget goes to the prompts where a
    frontier model's predicted gain is largest."""

    share: float | None = Field(default=None, ge=0, le=1,
                                description="At most this fraction of `auto` requests to frontier models.")
    usd_per_hour: float | None = Field(default=None, ge=0,
                                       description="At most this spend per hour on frontier models.")
    window: int = Field(default=200, ge=10, le=100_000,
                        description="Requests over which the recent share and gains are measured.")

    @model_validator(mode="after")
    def _something_capped(self) -> FrontierBudgetConfig:
        if self.share is None and self.usd_per_hour is None:
            raise ValueError("a frontier budget needs `share`, `usd_per_hour` or both")
        return self


class SessionConfig(_Strict):
    """Session affinity: requests of one conversation stay on the model first chosen."""

    enabled: bool = True
    ttl_s: float = Field(default=1800.0, gt=0, description="Forget a session this long after its last use.")
    max_sessions: int = Field(default=100_000, ge=1, description="Oldest sessions are forgotten beyond this.")


class RoutingConfig(_Strict):
    default_objective: str = "balanced"
    objectives: dict[str, Objective] = Field(min_length=1)
    expected_output_tokens: int = Field(
        default=256, ge=1, description="Output length assumed for cost when the request sets none.")
    spillover: SpilloverConfig = Field(default_factory=SpilloverConfig)
    scale_up: ScaleUpConfig = Field(default_factory=ScaleUpConfig)
    latency: LatencyPriors = Field(default_factory=LatencyPriors)
    fallback: FallbackConfig = Field(default_factory=FallbackConfig)
    policy: GlobalPolicy = Field(default_factory=GlobalPolicy)
    frontier_models: frozenset[str] | None = Field(
        default=None, description="Model ids that count as frontier for budgets; None: every remote "
                                  "model whose output price is at least `frontier_min_output_price`.")
    frontier_min_output_price: float = Field(default=6.0, ge=0,
                                             description="Per 1M output tokens (see frontier_models).")
    frontier_budget: FrontierBudgetConfig | None = Field(
        default=None, description="A global cap on frontier use; tenants may set their own.")
    sessions: SessionConfig = Field(default_factory=SessionConfig)
    decision_log: Path | None = Field(default=None, description="JSON-lines file of every decision.")

    @model_validator(mode="after")
    def _default_exists(self) -> RoutingConfig:
        if self.default_objective not in self.objectives:
            raise ValueError(f"default_objective {self.default_objective!r} is not one of the objectives "
                             f"({', '.join(sorted(self.objectives))})")
        return self

    def is_frontier(self, entry: ModelEntry) -> bool:
        """Whether `entry` counts against frontier budgets."""
        if self.frontier_models is not None:
            return entry.id in self.frontier_models
        return (not entry.is_local
                and entry.pricing.output_per_mtok >= self.frontier_min_output_price)

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
_UNION_TAGS = OBJECTIVE_TYPES
