"""`FeatureExtractor`: turns a chat request into `RequestFeatures` (the router's one entry point).

Per request it embeds one short text (the last user message, cut as `text.classifier_text` says) once,
then applies the category head and the quality head to that vector with numpy. The per-text pieces
(`classify`, `p_weak_ok`) are public so that `stellwerk eval` can score the held-out rows in batches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from models.categories import CATEGORIES, DEFAULT_CATEGORY
from router.features.embedder import Embedder, default_embedder
from router.features.heads import LinearHead
from router.features.language import detect_language
from router.features.request_features import RequestFeatures, structural_features
from router.features.text import classifier_text, last_user_text
from router.schemas import ChatCompletionRequest

__all__ = ["DEFAULT_ARTIFACTS", "FeatureExtractor"]

DEFAULT_ARTIFACTS: Final = Path(__file__).with_name("artifacts")
CATEGORY_HEAD: Final = "category_head.npz"
QUALITY_HEAD: Final = "quality_head.npz"
METADATA: Final = "metadata.json"


class FeatureExtractor:
    """Holds the embedder and both heads; `extract` is synchronous and CPU-bound (milliseconds)."""

    def __init__(self, embedder: Embedder, category_head: LinearHead, quality_head: LinearHead | None,
                 metadata: dict[str, Any] | None = None) -> None:
        unknown = set(category_head.classes) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"category head has classes outside CATEGORIES: {sorted(unknown)}")
        self._embedder = embedder
        self._category = category_head
        self._quality = quality_head
        self.metadata: dict[str, Any] = metadata or {}

    @classmethod
    def load(cls, artifacts: Path | None = None, embedder: Embedder | None = None) -> FeatureExtractor:
        """Loads the heads from `artifacts` (default: the packaged ones) and the default embedder."""
        folder = artifacts or DEFAULT_ARTIFACTS
        quality_path = folder / QUALITY_HEAD
        metadata_path = folder / METADATA
        return cls(
            embedder or default_embedder(),
            LinearHead.load(folder / CATEGORY_HEAD),
            LinearHead.load(quality_path) if quality_path.is_file() else None,
            json.loads(metadata_path.read_text()) if metadata_path.is_file() else None,
        )

    @property
    def categories(self) -> tuple[str, ...]:
        """Column order of `classify`'s probabilities."""
        return self._category.classes

    def extract(self, request: ChatCompletionRequest) -> RequestFeatures:
        """All features of `request`."""
        return self.extract_many([request])[0]

    def extract_many(self, requests: Sequence[ChatCompletionRequest]) -> list[RequestFeatures]:
        """Features of many requests with one embedder call (for evaluation and batch jobs)."""
        texts = [last_user_text(r) for r in requests]
        with_text = [i for i, t in enumerate(texts) if t.strip()]
        vectors = self.embed([texts[i] for i in with_text])
        learned: dict[int, tuple[str, float, float | None]] = {}
        for row, i in enumerate(with_text):
            learned[i] = self._learned(vectors[row:row + 1])
        return [self._features(r, t, learned.get(i)) for i, (r, t) in enumerate(zip(requests, texts,
                                                                                     strict=True))]

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embeddings of `texts` after the same cut as training."""
        return self._embedder.embed([classifier_text(t) for t in texts])

    def classify(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """(n x k) category probabilities, columns in `categories` order."""
        return self._category.probabilities(self.embed(texts))

    def p_weak_ok(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """P(the weak model answers as well as the strong one) per text; NaN without a quality head."""
        if self._quality is None:
            return np.full(len(texts), np.nan, dtype=np.float32)
        return self._quality.probabilities(self.embed(texts))

    def _learned(self, vector: npt.NDArray[np.float32]) -> tuple[str, float, float | None]:
        probs = self._category.probabilities(vector)[0]
        best = int(np.argmax(probs))
        quality = None if self._quality is None else float(self._quality.probabilities(vector)[0])
        return self._category.classes[best], float(probs[best]), quality

    def _features(self, request: ChatCompletionRequest, text: str,
                  learned: tuple[str, float, float | None] | None) -> RequestFeatures:
        # A request with no user text (e.g. only an image) gets the default category at confidence 0.
        category, confidence, quality = learned or (DEFAULT_CATEGORY, 0.0, None)
        base = structural_features(request)
        return RequestFeatures(
            prompt_tokens=base.prompt_tokens, max_tokens=base.max_tokens, needs_tools=base.needs_tools,
            needs_json=base.needs_json, has_images=base.has_images,
            language=detect_language(text), category=category, category_confidence=confidence,
            p_weak_ok=quality,
        )
