"""`model: "auto"` for the foundation: local first, remote when the prompt does not fit locally.

The real routing engine (load, task, quality, cost, policy) replaces this behind the same function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.catalogue import ModelEntry
from serving.errors import ContextLengthExceeded, EngineUnavailable

__all__ = ["AutoChoice", "choose_auto", "estimate_tokens"]

# A cheap upper-ish estimate of tokens from characters (English averages ~4 chars/token; code and
# other scripts fewer). The engine still enforces the exact limit.
_CHARS_PER_TOKEN = 3


@dataclass(frozen=True)
class AutoChoice:
    entry: ModelEntry
    reason: str


def estimate_tokens(chars: int) -> int:
    return chars // _CHARS_PER_TOKEN + 1


def choose_auto(candidates: Sequence[ModelEntry], prompt_chars: int, max_tokens: int | None) -> AutoChoice:
    """The cheapest chat model whose context fits the request; local before remote on ties."""
    chat = [e for e in candidates if e.capabilities.chat]
    if not chat:
        raise EngineUnavailable("no chat model is available for model=auto")
    needed = estimate_tokens(prompt_chars) + (max_tokens or 16)
    fitting = [e for e in chat if e.capabilities.context_length >= needed]
    if not fitting:
        longest = max(e.capabilities.context_length for e in chat)
        raise ContextLengthExceeded(
            f"the request needs about {needed} tokens; the longest context available is {longest}",
            param="messages")
    best = min(fitting, key=lambda e: (_price(e), e.kind != "local"))
    reason = "local-first" if best.kind == "local" else "remote-context"
    if best.kind != "local" and any(e.kind == "local" for e in chat):
        reason = "remote-context-too-long-for-local"
    return AutoChoice(best, reason)


def _price(entry: ModelEntry) -> float:
    return entry.pricing.input_per_mtok + entry.pricing.output_per_mtok
