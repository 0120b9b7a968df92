"""Span attributes of the routing steps (features, decision): numbers, codes and model ids only."""

from __future__ import annotations

from router.features.request_features import RequestFeatures
from router.routing.decision import Decision

__all__ = ["decision_attributes", "feature_attributes"]

Attributes = dict[str, str | bool | int | float | list[str]]


def feature_attributes(f: RequestFeatures) -> Attributes:
    attributes: Attributes = {
        "stellwerk.features.category": f.category, "stellwerk.features.language": f.language,
        "stellwerk.features.prompt_tokens": f.prompt_tokens, "stellwerk.features.needs_tools": f.needs_tools}
    if f.p_weak_ok is not None:
        attributes["stellwerk.features.p_weak_ok"] = round(f.p_weak_ok, 4)
    return attributes


def decision_attributes(d: Decision) -> Attributes:
    """The choice, the reason, the try order and why the others were not eligible."""
    return {
        "stellwerk.route.objective": d.objective, "stellwerk.route.reason": d.reason,
        "stellwerk.route.model": d.chosen.id, "stellwerk.route.explanation": d.explanation,
        "stellwerk.route.candidates": [e.id for e in d.order],
        "stellwerk.route.not_eligible": [f"{c.model}: {c.note}" for c in d.candidates if not c.eligible],
    }
