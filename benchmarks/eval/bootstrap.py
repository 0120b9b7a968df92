"""Bootstrap confidence intervals for the router's APGR and CPT: how much the held-out sample decides.

Rows are resampled with replacement `reps` times (seeded); each resample gets its own weak/strong
qualities, threshold curve and metrics; the interval is the 2.5th to 97.5th percentile. Resamples
whose strong model does not outscore the weak one are left out of the interval (and counted).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.eval.curve import Outcomes, router_curve
from benchmarks.eval.metrics import apgr, cpt

__all__ = ["bootstrap_ci"]


def bootstrap_ci(p_weak_ok: npt.NDArray[np.float64], outcomes: Outcomes, reps: int,
                 seed: int) -> dict[str, Any]:
    """95 % percentile intervals of APGR, CPT(50%) and CPT(80%) over `reps` resamples of the rows."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {"apgr": [], "cpt_50": [], "cpt_80": []}
    undefined = 0
    for _ in range(reps):
        idx = rng.integers(0, outcomes.n, outcomes.n)
        sample = Outcomes(outcomes.strong[idx], outcomes.weak[idx])
        weak, strong = sample.weak_quality, sample.strong_quality
        if strong <= weak:
            undefined += 1
            continue
        curve = router_curve(p_weak_ok[idx], sample)
        for key, value in (("apgr", apgr(curve, weak, strong)), ("cpt_50", cpt(curve, weak, strong, 50.0)),
                           ("cpt_80", cpt(curve, weak, strong, 80.0))):
            if value is not None:
                samples[key].append(value)
    intervals = {key: _interval(values) for key, values in samples.items()}
    return {"reps": reps, "seed": seed, "undefined_resamples": undefined, **intervals}


def _interval(values: list[float]) -> list[float] | None:
    if not values:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return [float(low), float(high)]
