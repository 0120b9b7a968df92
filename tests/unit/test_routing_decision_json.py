"""`Decision.to_json` lists every field of every candidate, rounded, as `dataclasses.asdict` would."""

from __future__ import annotations

import dataclasses

from models.catalogue import load_catalogue
from router.features.request_features import RequestFeatures
from router.routing.decision import Decision, ScoredCandidate


def test_candidates_serialise_every_field_rounded() -> None:
    entry = load_catalogue().models[0]
    candidates = (
        ScoredCandidate("a", "p", "local", 0.123456789, 1e-9, 0.5, 2, True, "", utility=-0.1234567891),
        ScoredCandidate("b", "", "", None, 0.0, None, None, False, "policy: denied", frontier=True),
    )
    features = RequestFeatures(10, None, False, False, False, "en", "general", 0.9, None)
    decision = Decision("value", entry, "best-value", "why", (entry,), candidates, features, None)

    rows = decision.to_json()["candidates"]

    expected = [{k: round(v, 6) if isinstance(v, float) else v for k, v in dataclasses.asdict(c).items()}
                for c in candidates]
    assert rows == expected
    assert rows[0]["quality"] == 0.123457 and rows[1]["frontier"] is True
