"""The task categories Stellwerk routes by: the request classifier predicts one, the quality table
scores every chat model on each."""

from __future__ import annotations

from typing import Final

__all__ = ["CATEGORIES", "DEFAULT_CATEGORY"]

CATEGORIES: Final[tuple[str, ...]] = (
    "chit_chat",    # greetings, small talk, role-play
    "general",      # open advice and how-to questions
    "knowledge",    # factual questions, exam-style multiple choice
    "reasoning",    # logic, common sense, estimates, counterfactuals
    "math",         # arithmetic word problems to competition maths
    "coding",       # writing, fixing or explaining code
    "writing",      # creative and long-form writing
    "extraction",   # pull fields, entities or a summary out of a given text
    "tool_use",     # the user's goal needs a function/tool call
)

DEFAULT_CATEGORY: Final = "general"
