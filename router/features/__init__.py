"""Request features for routing: structural facts, language, task category and P(weak model is enough).

The router builds one `FeatureExtractor` at start-up (`FeatureExtractor.load()`) and calls
`extract(request)` per chat request; training lives in `router.features.train` (scikit-learn, offline)
and the held-out rule in `router.features.split`. Import the submodules directly: this package
imports nothing heavy on its own.
"""

from __future__ import annotations

__all__: list[str] = []
