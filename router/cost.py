"""What a request cost: usage times the catalogue's prices (per million tokens)."""

from __future__ import annotations

from models.catalogue import ModelEntry
from serving.engine import Usage

__all__ = ["request_cost"]


def request_cost(entry: ModelEntry, usage: Usage) -> float:
    """Cost in the entry's currency. Local models carry price 0 until the cost model prices them."""
    p = entry.pricing
    return (usage.prompt_tokens * p.input_per_mtok + usage.completion_tokens * p.output_per_mtok) / 1e6
