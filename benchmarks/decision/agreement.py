"""How closely the fast embedder reproduces the torch reference on real prompts, and what it changes
downstream: cosine of the vectors, the category head's top class, the quality head's p_weak_ok, and
the model the whole decision picks (same prompts, same idle telemetry)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.decision.driver import build_service
from cluster.telemetry import TelemetrySnapshot
from router.features.extract import FeatureExtractor
from router.schemas import ChatCompletionRequest

__all__ = ["agreement", "decision_agreement"]


async def decision_agreement(reference: FeatureExtractor, fast: FeatureExtractor,
                             requests: Sequence[ChatCompletionRequest]) -> dict[str, Any]:
    """Share of requests for which both extractors lead the default objective to the same model."""
    services = [build_service(x, lambda: TelemetrySnapshot()) for x in (reference, fast)]
    same = 0
    for i, request in enumerate(requests):
        chosen = [(await s.decide(request, None, request_id=f"agree-{i}", dry_run=True)).chosen.id
                  for s in services]
        same += chosen[0] == chosen[1]
    for service in services:
        service.close()
    return {"decisions": len(requests), "same_model": round(same / max(len(requests), 1), 4)}


def agreement(reference: FeatureExtractor, fast: FeatureExtractor, texts: Sequence[str]) -> dict[str, Any]:
    """Compare the two extractors' embeddings of `texts` (each text alone, as the router embeds)."""
    ref = np.vstack([reference.embed([t]) for t in texts])
    new = np.vstack([fast.embed([t]) for t in texts])
    cosines = np.sum(ref * new, axis=1)
    ref_top = np.argmax(reference.classify(texts), axis=1)
    new_top = np.argmax(fast.classify(texts), axis=1)
    result: dict[str, Any] = {
        "prompts": len(texts),
        "cosine_mean": round(float(cosines.mean()), 5), "cosine_min": round(float(cosines.min()), 5),
        "cosine_p01": round(float(np.percentile(cosines, 1)), 5),
        "category_agreement": round(float(np.mean(ref_top == new_top)), 4),
    }
    ref_q, new_q = reference.p_weak_ok(texts), fast.p_weak_ok(texts)
    if not np.isnan(ref_q).any():
        diff = np.abs(ref_q - new_q)
        result.update(p_weak_ok_abs_diff_mean=round(float(diff.mean()), 4),
                      p_weak_ok_abs_diff_max=round(float(diff.max()), 4))
    return result
