"""Cost per 1M tokens of a local model: hardware price per hour / tokens produced per hour.

    cost per output token = units x price_per_hour / (work tokens per hour at the chosen point x utilisation)
    cost per input token  = input_token_weight x cost per output token

where work tokens = output tokens + input_token_weight x input tokens (the profile's work model: a prompt
token takes that fraction of the replica time an output token takes). `utilisation` is the share of the
paid hours the replica runs at the chosen load point (traffic is not flat; 1.0 = busy around the clock).
The point is the profile's highest-throughput one unless an SLO point is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.cost.hardware import HardwarePrice
from benchmarks.planner.profiles import PerformanceProfile, ProfilePoint

__all__ = ["TokenCosts", "blended", "token_costs"]


@dataclass(frozen=True)
class TokenCosts:
    """Price per 1M tokens (input, output, and blended at `input_tokens:output_tokens`)."""

    input_per_mtok: float
    output_per_mtok: float
    blended_per_mtok: float
    currency: str


def blended(input_per_mtok: float, output_per_mtok: float, input_tokens: float,
            output_tokens: float) -> float:
    """Price per 1M tokens of a stream with this input:output mix."""
    return (input_tokens * input_per_mtok + output_tokens * output_per_mtok) / (input_tokens + output_tokens)


def token_costs(profile: PerformanceProfile, price: HardwarePrice, *, utilisation: float,
                input_tokens: float, output_tokens: float, point: ProfilePoint | None = None) -> TokenCosts:
    """Local cost per 1M tokens (see the module docstring); blended at the given mix."""
    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation must be in (0, 1], not {utilisation}")
    point = point or max(profile.points, key=lambda p: p.output_tokens_per_s)
    w = profile.workload
    work_per_s = point.output_tokens_per_s / w.output_tokens * profile.work_per_request(
        w.input_tokens, w.output_tokens)
    per_hour = price.price_per_hour * profile.units_per_replica
    out = per_hour / (work_per_s * 3600 * utilisation) * 1e6
    inp = profile.input_token_weight * out
    return TokenCosts(inp, out, blended(inp, out, input_tokens, output_tokens), price.currency)
