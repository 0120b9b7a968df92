"""The router's request classifiers by name: an embedder and the heads and quality model trained on it.

Heads only fit the vectors they were trained on, so an embedder and its artifacts are chosen together:

- `minilm` (default): all-MiniLM-L6-v2 as the int8 ONNX graph, 128-token window (`default_embedder`);
  heads in `router/features/artifacts` and `router/quality/artifacts`.
- `static`: the token table distilled from the same MiniLM (`static_embedder`), ~0.1 ms a prompt;
  heads in `router/features/artifacts/static` and `router/quality/artifacts/static`.

`stellwerk serve --classifier static` selects the second (README, "Benchmarks, costs and capacity").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from router.features.embedder import Embedder, default_embedder, static_embedder
from router.features.extract import DEFAULT_ARTIFACTS, FeatureExtractor
from router.features.static_embedder import TOKEN_LOGITS_FILE
from router.quality.model import DEFAULT_ARTIFACTS as QUALITY_ARTIFACTS

__all__ = ["CLASSIFIERS", "DEFAULT_CLASSIFIER", "Classifier", "classifier", "load_classifier"]


@dataclass(frozen=True)
class Classifier:
    """An embedder factory and the artifact folders trained on its vectors."""

    name: str
    embedder: Callable[[], Embedder]
    artifacts: Path
    quality_artifacts: Path


CLASSIFIERS: Final = {
    "minilm": Classifier("minilm", default_embedder, DEFAULT_ARTIFACTS, QUALITY_ARTIFACTS),
    "static": Classifier("static", lambda: _static_embedder(DEFAULT_ARTIFACTS / "static"),
                         DEFAULT_ARTIFACTS / "static", QUALITY_ARTIFACTS / "static"),
}
DEFAULT_CLASSIFIER: Final = "minilm"


def _static_embedder(artifacts: Path) -> Embedder:
    """The distilled table, with the supervised token table its heads were trained with."""
    token_logits = artifacts / TOKEN_LOGITS_FILE
    return static_embedder(token_logits=token_logits if token_logits.is_file() else None)


def classifier(name: str) -> Classifier:
    """The classifier called `name`; raises ValueError naming the known ones."""
    try:
        return CLASSIFIERS[name]
    except KeyError:
        raise ValueError(f"unknown classifier {name!r}; known: {', '.join(CLASSIFIERS)}") from None


def load_classifier(name: str = DEFAULT_CLASSIFIER, embedder: Embedder | None = None) -> FeatureExtractor:
    """The `FeatureExtractor` of classifier `name` (its embedder unless `embedder` is given)."""
    spec = classifier(name)
    return FeatureExtractor.load(spec.artifacts, embedder or spec.embedder(), spec.quality_artifacts)
