"""Shared fixtures (no tests) for the `stellwerk eval` unit tests: a hand-computed dataset and a scripted
scorer. Named test_eval_* only to stay within the eval test files."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.eval.curve import Outcomes

# (prompt, p_weak_ok, strong score, weak score, category). strong mean 0.75, weak mean 0.5.
# Sorted by p_weak_ok the strong-minus-weak gains are +1 +1 -1 0 +1 0 0 0, so the router's curve has
# PGR 0, .5, 1, .5, .5, 1, 1, 1, 1 at shares 0, 1/8, ..., 1 (worked out in test_eval_metrics.py).
EIGHT = (
    ("q1", 0.1, 1.0, 0.0, "a"), ("q2", 0.2, 1.0, 0.0, "b"), ("q3", 0.3, 0.0, 1.0, "a"),
    ("q4", 0.4, 1.0, 1.0, "b"), ("q5", 0.5, 1.0, 0.0, "a"), ("q6", 0.6, 0.0, 0.0, "b"),
    ("q7", 0.7, 1.0, 1.0, "a"), ("q8", 0.8, 1.0, 1.0, "b"),
)


def eight_outcomes() -> tuple[npt.NDArray[np.float64], Outcomes]:
    p = np.array([r[1] for r in EIGHT])
    return p, Outcomes(np.array([r[2] for r in EIGHT]), np.array([r[3] for r in EIGHT]))


def write_eight(path: Path) -> Path:
    lines = [json.dumps({"id": prompt, "prompt": prompt, "scores": {"big": s, "small": w}, "category": c})
             for prompt, _, s, w, c in EIGHT]
    path.write_text("\n".join(lines) + "\n")
    return path


class ScriptedScorer:
    """p_weak_ok from a table, by prompt; records every batch it was asked for."""

    def __init__(self, table: Mapping[str, float]) -> None:
        self.table = dict(table)
        self.calls: list[list[str]] = []

    def p_weak_ok(self, prompts: Sequence[str]) -> npt.NDArray[np.float64]:
        self.calls.append(list(prompts))
        return np.array([self.table[p] for p in prompts], dtype=np.float64)


def eight_scorer() -> ScriptedScorer:
    return ScriptedScorer({prompt: p for prompt, p, *_ in EIGHT})
