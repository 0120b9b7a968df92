"""RouteLLM's published routing metrics on MMLU and GSM8K, shipped as data beside our own numbers.

Source: I. Ong, A. Almahairi, V. Wu, W.-L. Chiang, T. Wu, J. E. Gonzalez, M. W. Kadous, I. Stoica,
"RouteLLM: Learning to Route LLMs with Preference Data", arXiv:2406.18665 (v4, ICLR 2025), the MMLU
(5-shot) and GSM8K (8-shot) results tables; strong model gpt-4-1106-preview, weak Mixtral-8x7B, on all
uncontaminated benchmark rows. Their routers were trained on Chatbot Arena preference data
(D_arena) augmented with MMLU golden labels (D_gold) or GPT-4-judge labels (D_judge), not on our data,
and they were evaluated on every uncontaminated row, not on our held-out 20 %: a side-by-side
comparison is indicative only.

NOTE: the stored copy of the paper reachable while this was written gave its opening only; the figures
below are transcribed from two independent research notes quoting those tables (they agree with each
other). Check them against the paper's tables before quoting them outside this report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["CITATION", "PUBLISHED", "PublishedFigure"]

CITATION: Final = ("Ong et al., RouteLLM: Learning to Route LLMs with Preference Data, arXiv:2406.18665 "
                   "(v4, ICLR 2025), MMLU and GSM8K results tables")


@dataclass(frozen=True)
class PublishedFigure:
    """One published router result; a metric it does not state is None. CPT values are shares (0..1)."""

    benchmark: str
    router: str
    training_data: str
    apgr: float | None
    cpt_50: float | None
    cpt_80: float | None
    note: str = ""


PUBLISHED: Final[tuple[PublishedFigure, ...]] = (
    PublishedFigure("mmlu", "random (baseline)", "-", 0.500, 0.500, 0.800,
                    "expected value; the paper's random row is about 0.50 / 50 % / 80 %"),
    PublishedFigure("mmlu", "SW ranking (best APGR)", "D_arena + D_gold", 0.603, 0.354, None),
    PublishedFigure("mmlu", "causal LLM", "D_arena + D_gold", 0.600, 0.355, None),
    PublishedFigure("mmlu", "best CPT(80%) of any router", "D_arena + D_gold", None, None, 0.703,
                    "router not named in the transcription"),
    PublishedFigure("mmlu", "routers trained on Arena data only", "D_arena", 0.50, None, None,
                    "about random: Arena prompts do not cover MMLU"),
    PublishedFigure("gsm8k", "random (baseline)", "-", 0.500, 0.500, 0.800, "expected value"),
    PublishedFigure("gsm8k", "causal LLM (best)", "D_arena + D_judge", 0.622, 0.336, 0.633),
)
