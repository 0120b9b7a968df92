"""Per-model quality prediction: P(model m answers prompt x well), for any model with a descriptor.

An IRT-style (2PL) model over the request embedding the features already compute:

    P(good | x, m) = sigmoid(a(x) * (theta_m . w(x) - d(x)))

The prompt side (`PromptProfile`: difficulty d, discrimination a, task-category weights w) comes from
linear heads over the all-MiniLM-L6-v2 embedding; the model side (`ModelDescriptor`: one ability per
task category) is either measured (models in the training data) or mapped from published benchmark
scores (models/quality.yaml), so a new catalogue model needs no retraining. `QualityModel` loads the
artifacts and predicts with numpy (or plain floats per candidate); `QualityPredictor` binds it to the
catalogue for the routing service. Training lives in `router.quality.train` (scipy, offline).
"""

from __future__ import annotations

__all__: list[str] = []
