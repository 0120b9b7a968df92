"""Tenants and their policies: a YAML file, validated strictly, hot-reloaded like the routing config.

    auth: required            # required: every request needs a key; off: one anonymous tenant, no keys
    tenants:
      acme:
        policy:
          allow_providers: [stellwerk-local, openai]   # omitted: any provider
          deny_models: [openai/gpt-4.1]
          jurisdictions: [on-prem, EU]                 # omitted: any
          leave_premises: true                          # false: local models only
          sensitive_data: on-prem                       # allow | on-prem | refuse
        default_objective: balanced
        limits: {requests_per_minute: 600, tokens_per_minute: 200000}
        budget: {per_day: 50, per_month: 1000}          # in the catalogue's currency

Policies only narrow what the routing configuration's global policy and the ban list allow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.catalogue import ModelEntry
from models.yaml_config import parse_yaml_model, read_yaml_model
from router.routing.config import FrontierBudgetConfig

__all__ = [
    "ANONYMOUS_TENANT",
    "Budget",
    "Limits",
    "TenantConfig",
    "TenantPolicy",
    "TenantsConfig",
    "TenantsConfigError",
    "load_tenants_config",
    "parse_tenants_config",
]

ANONYMOUS_TENANT = "default"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TenantPolicy(_Strict):
    allow_providers: frozenset[str] | None = None
    deny_providers: frozenset[str] = frozenset()
    allow_models: frozenset[str] | None = None
    deny_models: frozenset[str] = frozenset()
    jurisdictions: frozenset[str] | None = Field(
        default=None, description="Where prompts may be processed; None: anywhere.")
    leave_premises: bool = Field(default=True, description="False: only models on our own machines.")
    sensitive_data: Literal["allow", "on-prem", "refuse"] = Field(
        default="allow", description="What to do with prompts carrying personal data or secrets.")

    def reject_reason(self, entry: ModelEntry) -> str | None:
        """Why this tenant may not use `entry`, or None."""
        if self.allow_providers is not None and entry.provider not in self.allow_providers:
            return f"provider {entry.provider!r} is not in the tenant's allowed providers"
        if entry.provider in self.deny_providers:
            return f"provider {entry.provider!r} is denied for the tenant"
        if self.allow_models is not None and entry.id not in self.allow_models:
            return f"model {entry.id!r} is not in the tenant's allowed models"
        if entry.id in self.deny_models:
            return f"model {entry.id!r} is denied for the tenant"
        if self.jurisdictions is not None and entry.residency.jurisdiction not in self.jurisdictions:
            return (f"jurisdiction {entry.residency.jurisdiction!r} is outside the tenant's "
                    f"({', '.join(sorted(self.jurisdictions))})")
        if not self.leave_premises and entry.residency.leaves_premises:
            return "the tenant's prompts may not leave the premises"
        return None


class Limits(_Strict):
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)


class Budget(_Strict):
    per_day: float | None = Field(default=None, ge=0)
    per_month: float | None = Field(default=None, ge=0)


class TenantConfig(_Strict):
    description: str = ""
    policy: TenantPolicy = Field(default_factory=TenantPolicy)
    default_objective: str | None = None
    cost_weight: float | None = Field(
        default=None, ge=0, description="The value objective's quality points per unit of currency.")
    frontier_budget: FrontierBudgetConfig | None = Field(
        default=None, description="At most this share of requests / spend per hour on frontier models.")
    limits: Limits = Field(default_factory=Limits)
    budget: Budget = Field(default_factory=Budget)


class TenantsConfig(_Strict):
    auth: Literal["required", "off"] = "required"
    tenants: dict[str, TenantConfig] = Field(default_factory=dict)

    def tenant(self, name: str) -> TenantConfig | None:
        if self.auth == "off" and name == ANONYMOUS_TENANT:
            return self.tenants.get(name, TenantConfig())
        return self.tenants.get(name)

    @classmethod
    def open_access(cls) -> TenantsConfig:
        """No keys: every request is the anonymous tenant, with no restrictions (the embedded default)."""
        return cls(auth="off")


class TenantsConfigError(ValueError):
    """A tenants file that cannot be used; the message names the file, field and line."""


def load_tenants_config(path: Path) -> TenantsConfig:
    return read_yaml_model(path, TenantsConfig, what="tenants file", error=TenantsConfigError)


def parse_tenants_config(text: str, path: Path) -> TenantsConfig:
    return parse_yaml_model(text, path, TenantsConfig, what="tenants file", error=TenantsConfigError)
