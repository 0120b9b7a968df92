"""What a request cost: usage times the catalogue's prices (per million tokens).

Prompt tokens split three ways: read from the provider's prompt cache (`cached_input_per_mtok`),
written to it (`cache_write_per_mtok`), and the rest at `input_per_mtok`; an unset cache rate falls back
to the input rate. Completion tokens, reasoning included, are billed at `output_per_mtok`.
"""

from __future__ import annotations

from typing import Protocol

from models.catalogue import ModelEntry
from serving.engine import Usage

__all__ = ["PricedRun", "cost_headers", "request_cost"]


class PricedRun(Protocol):
    """A run whose cost is known once it finished (`router.chat.service.ChatRun` is one)."""

    @property
    def entry(self) -> ModelEntry: ...

    @property
    def cost(self) -> float | None: ...


def request_cost(entry: ModelEntry, usage: Usage) -> float:
    """Cost in the entry's currency. Local models carry price 0 until the cost model prices them."""
    p = entry.pricing
    cached_rate = p.input_per_mtok if p.cached_input_per_mtok is None else p.cached_input_per_mtok
    write_rate = p.input_per_mtok if p.cache_write_per_mtok is None else p.cache_write_per_mtok
    uncached = max(0, usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens)
    return (uncached * p.input_per_mtok + usage.cached_tokens * cached_rate
            + usage.cache_write_tokens * write_rate + usage.completion_tokens * p.output_per_mtok) / 1e6


def cost_headers(run: PricedRun) -> dict[str, str]:
    """The finished run's cost, for answers whose headers go out after the engine is done."""
    if run.cost is None:
        return {}
    return {"x-stellwerk-cost": f"{run.cost:.10f}".rstrip("0").rstrip(".") or "0",
            "x-stellwerk-cost-currency": run.entry.pricing.currency}
