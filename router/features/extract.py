"""`FeatureExtractor`: turns a chat request into `RequestFeatures` (the router's one entry point).

Per request it embeds one short text (the last user message, cut as `text.classifier_text` says) once,
then applies the category head, the p_weak_ok head and the quality model's prompt heads
(`router.quality`: difficulty, discrimination) to that one vector with numpy. The per-text pieces
(`classify`, `p_weak_ok`, `profiles`) are public so that `stellwerk eval` can score rows in batches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
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
from router.quality.model import DEFAULT_ARTIFACTS as QUALITY_ARTIFACTS
from router.quality.model import MODEL_FILE as QUALITY_MODEL_FILE
from router.quality.model import QualityModel, file_sha256
from router.quality.profile import PromptProfile
from router.schemas import ChatCompletionRequest

__all__ = ["DEFAULT_ARTIFACTS", "FeatureExtractor"]

DEFAULT_ARTIFACTS: Final = Path(__file__).with_name("artifacts")
CATEGORY_HEAD: Final = "category_head.npz"
QUALITY_HEAD: Final = "quality_head.npz"
METADATA: Final = "metadata.json"
TOOL_USE: Final = "tool_use"


class FeatureExtractor:
    """Holds the embedder, the heads and the quality model; `extract` is synchronous and CPU-bound."""

    def __init__(self, embedder: Embedder, category_head: LinearHead, quality_head: LinearHead | None,
                 metadata: dict[str, Any] | None = None, quality_model: QualityModel | None = None) -> None:
        unknown = set(category_head.classes) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"category head has classes outside CATEGORIES: {sorted(unknown)}")
        self._embedder = embedder
        self._category = category_head
        self._quality = quality_head
        self._order = [category_head.classes.index(c) for c in CATEGORIES if c in category_head.classes]
        if quality_model is not None and len(self._order) != len(CATEGORIES):
            raise ValueError("the quality model needs a category head over every category")
        self.quality_model = quality_model
        self.metadata: dict[str, Any] = metadata or {}

    @classmethod
    def load(cls, artifacts: Path | None = None, embedder: Embedder | None = None,
             quality_artifacts: Path | None = None) -> FeatureExtractor:
        """Loads the heads from `artifacts` (default: the packaged ones), the quality model from
        `quality_artifacts` (default: router/quality/artifacts, skipped if absent) and the embedder."""
        folder = artifacts or DEFAULT_ARTIFACTS
        quality_path = folder / QUALITY_HEAD
        metadata_path = folder / METADATA
        return cls(
            embedder or default_embedder(),
            LinearHead.load(folder / CATEGORY_HEAD),
            LinearHead.load(quality_path) if quality_path.is_file() else None,
            json.loads(metadata_path.read_text()) if metadata_path.is_file() else None,
            _quality_model(quality_artifacts or QUALITY_ARTIFACTS, folder / CATEGORY_HEAD),
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
        learned: dict[int, _Learned] = {}
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

    def profiles(self, texts: Sequence[str]) -> list[PromptProfile]:
        """Quality profiles of `texts` (one embedder call); raises without a quality model."""
        if self.quality_model is None:
            raise LookupError("no quality model loaded (router/quality/artifacts missing)")
        vectors = self.embed(texts)
        probs = self._category.probabilities(vectors)[:, self._order]
        return self.quality_model.profiles(vectors, probs)

    def _learned(self, vector: npt.NDArray[np.float32]) -> _Learned:
        probs = self._category.probabilities(vector)
        quality = None if self._quality is None else float(self._quality.probabilities(vector)[0])
        profile = (None if self.quality_model is None
                   else self.quality_model.profiles(vector, probs[:, self._order])[0])
        return _Learned(probs[0], quality, profile)

    def _category_of(self, probs: npt.NDArray[np.float32], needs_tools: bool) -> tuple[str, float]:
        """The most probable category; `tool_use` only when the request carries tools (the text alone
        cannot tell "What is the capital of France?" from a function-calling benchmark's question),
        otherwise the best other class with its probability renormalised over the other classes."""
        classes = self._category.classes
        if needs_tools or TOOL_USE not in classes:
            best = int(np.argmax(probs))
            return classes[best], float(probs[best])
        tool = classes.index(TOOL_USE)
        masked = probs.copy()
        masked[tool] = 0.0
        best = int(np.argmax(masked))
        return classes[best], float(masked[best] / max(float(masked.sum()), 1e-12))

    def _features(self, request: ChatCompletionRequest, text: str,
                  learned: _Learned | None) -> RequestFeatures:
        base = structural_features(request)
        if learned is None:
            # A request with no user text (e.g. only an image) gets the default category at confidence 0.
            category, confidence, quality, profile = DEFAULT_CATEGORY, 0.0, None, None
        else:
            category, confidence = self._category_of(learned.probs, base.needs_tools)
            quality, profile = learned.p_weak_ok, learned.profile
        return RequestFeatures(
            prompt_tokens=base.prompt_tokens, max_tokens=base.max_tokens, needs_tools=base.needs_tools,
            needs_json=base.needs_json, has_images=base.has_images,
            language=detect_language(text), category=category, category_confidence=confidence,
            p_weak_ok=quality, profile=profile,
        )


@dataclass(frozen=True)
class _Learned:
    probs: npt.NDArray[np.float32]   # category head order
    p_weak_ok: float | None
    profile: PromptProfile | None


def _quality_model(folder: Path, category_head: Path) -> QualityModel | None:
    """The quality model in `folder`, or None if there is none; it must have been trained on the
    profiles of this very category head (its weights' SHA-256 is recorded at training time)."""
    if not (folder / QUALITY_MODEL_FILE).is_file():
        return None
    model = QualityModel.load(folder)
    expected = model.metadata.get("category_head_sha256")
    if expected != file_sha256(category_head):
        raise ValueError(f"{folder}: the quality model was trained with another category head than "
                         f"{category_head}; retrain it (python -m router.quality.train)")
    return model
