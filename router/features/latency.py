"""Measures `FeatureExtractor.extract` per single request, as the router calls it (the serving
embedder, `default_embedder`: the int8 ONNX graph, one thread).

Prompts are a fixed mix of short and long texts so p99 includes a full token window.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

import numpy as np

from router.features.embedder import default_embedder
from router.features.extract import FeatureExtractor
from router.schemas import ChatCompletionRequest

__all__ = ["measure_latency"]

_PROMPTS: Final = (
    "hi, how are you?",
    "What is 17*23?",
    "Write a Python function that parses an ISO 8601 date and returns a datetime, with tests.",
    "Summarize the following text in two sentences: " + "The council voted to extend the tram line. " * 12,
    "Explain the difference between TCP and UDP, with examples of when each is the better choice, "
    "and say how QUIC changes the picture for web traffic. " * 3,
)


def measure_latency(artifacts: Path, rounds: int = 40, threads: int = 1) -> dict[str, float]:
    """p50/p95/p99/mean milliseconds of `extract` over `rounds` passes of the prompt mix."""
    # Without the per-model quality model (microseconds per request): it is trained after these heads,
    # on their output, so at this point the one on disk belongs to the previous heads.
    extractor = FeatureExtractor.load(artifacts, default_embedder(threads=threads),
                                      quality_artifacts=artifacts)
    requests = [ChatCompletionRequest.model_validate(
        {"model": "auto", "messages": [{"role": "user", "content": p}]}) for p in _PROMPTS]
    for request in requests:  # warm-up: first calls pay for lazy initialisation
        extractor.extract(request)
    timings = []
    for _ in range(rounds):
        for request in requests:
            started = time.perf_counter()
            extractor.extract(request)
            timings.append((time.perf_counter() - started) * 1000.0)
    values = np.array(timings)
    return {"p50": _r(np.percentile(values, 50)), "p95": _r(np.percentile(values, 95)),
            "p99": _r(np.percentile(values, 99)), "mean": _r(values.mean()), "n": float(len(values)),
            "threads": float(threads)}


def _r(value: float) -> float:
    return round(float(value), 2)
