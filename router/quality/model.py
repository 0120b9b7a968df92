"""`QualityModel`: the trained prompt heads, the ability scale and the training models' abilities.

Run time is numpy only: `profiles` turns embeddings (and the category head's probabilities) into
`PromptProfile`s, `predict` scores one (profile, descriptor) pair with plain floats (microseconds, called
for each candidate of a request), `predict_many` scores arrays for evaluation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from models.categories import CATEGORIES
from router.quality.descriptor import ModelDescriptor, family_of, size_of
from router.quality.profile import TOOL_INDEX, TOOL_SHARE, PromptProfile, mixed_ability
from router.quality.scale import AbilityScale, logistic

__all__ = ["DEFAULT_ARTIFACTS", "METADATA_FILE", "MODEL_FILE", "QualityModel", "file_sha256"]

DEFAULT_ARTIFACTS: Final = Path(__file__).with_name("artifacts")
MODEL_FILE: Final = "quality_model.npz"
METADATA_FILE: Final = "quality_model.json"
LOG_DISCRIMINATION_LIMIT: Final = 3.0  # a(x) stays in [e^-3, e^3]: extrapolation cannot blow it up

FloatArray = npt.NDArray[np.float32]
AnyFloats = npt.NDArray[np.floating[Any]]


@dataclass(frozen=True)
class QualityModel:
    """P(good | prompt, model) = sigmoid(a * (mixed ability - d)); see router.quality."""

    difficulty_w: FloatArray
    difficulty_b: float
    discrimination_w: FloatArray
    discrimination_b: float
    scale: AbilityScale
    train_models: tuple[str, ...]
    train_ability: FloatArray          # (M x K)
    train_measured: npt.NDArray[np.bool_]  # (M x K): enough outcomes in that category
    metadata: dict[str, Any] = field(default_factory=dict)

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, folder: Path | None = None) -> QualityModel:
        folder = folder or DEFAULT_ARTIFACTS
        with np.load(folder / MODEL_FILE, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
        metadata = json.loads((folder / METADATA_FILE).read_text())
        model = cls(
            arrays["difficulty_w"].astype(np.float32), float(arrays["difficulty_b"]),
            arrays["discrimination_w"].astype(np.float32), float(arrays["discrimination_b"]),
            AbilityScale(arrays["pools"].astype(np.float32), arrays["offsets"].astype(np.float32)),
            tuple(str(n) for n in arrays["train_models"]), arrays["train_ability"].astype(np.float32),
            arrays["train_measured"].astype(bool), metadata)
        model._check()
        return model

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            folder / MODEL_FILE, difficulty_w=self.difficulty_w, difficulty_b=np.float32(self.difficulty_b),
            discrimination_w=self.discrimination_w, discrimination_b=np.float32(self.discrimination_b),
            pools=self.scale.pools, offsets=self.scale.offsets,
            train_models=np.array(self.train_models, dtype=str),
            train_ability=self.train_ability, train_measured=self.train_measured)
        (folder / METADATA_FILE).write_text(json.dumps(self.metadata, indent=2, sort_keys=True) + "\n")

    def _check(self) -> None:
        k = len(CATEGORIES)
        if self.scale.pools.ndim != 3 or self.scale.pools.shape[0] != k or self.scale.offsets.shape != (k,):
            raise ValueError(f"ability scale does not have {k} categories")
        if self.train_ability.shape != (len(self.train_models), k):
            raise ValueError("training abilities do not match the model names")
        if self.difficulty_w.shape != self.discrimination_w.shape:
            raise ValueError("difficulty and discrimination heads differ in dimension")

    # -- prompt side -----------------------------------------------------------------------------

    def prompt_params(self, vectors: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(difficulty, discrimination) per row of `vectors` (n x d embeddings)."""
        d = vectors @ self.difficulty_w + self.difficulty_b
        log_a = np.clip(vectors @ self.discrimination_w + self.discrimination_b,
                        -LOG_DISCRIMINATION_LIMIT, LOG_DISCRIMINATION_LIMIT)
        return np.asarray(d, dtype=np.float32), np.asarray(np.exp(log_a), dtype=np.float32)

    def profiles(self, vectors: FloatArray, category_probs: FloatArray) -> list[PromptProfile]:
        """One profile per row; `category_probs` columns in CATEGORIES order."""
        d, a = self.prompt_params(vectors)
        return [PromptProfile(float(d[i]), float(a[i]), tuple(float(w) for w in category_probs[i]))
                for i in range(len(d))]

    # -- prediction ------------------------------------------------------------------------------

    def predict(self, profile: PromptProfile, descriptor: ModelDescriptor, *,
                needs_tools: bool = False) -> float:
        """P(the model answers this prompt well), in [0, 1]."""
        theta = mixed_ability(profile.weights, descriptor.ability, needs_tools=needs_tools)
        return logistic(profile.discrimination * (theta - profile.difficulty))

    @staticmethod
    def predict_many(difficulty: AnyFloats, discrimination: AnyFloats, weights: AnyFloats,
                     abilities: AnyFloats, *, needs_tools: bool = False) -> FloatArray:
        """(n x m) probabilities for n prompts (arrays) and m models (abilities m x K)."""
        w = np.asarray(weights, dtype=np.float64).copy()
        w[:, TOOL_INDEX] = 0.0
        w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
        theta = w @ np.asarray(abilities, dtype=np.float64).T
        if needs_tools:
            theta = (1.0 - TOOL_SHARE) * theta + TOOL_SHARE * np.asarray(abilities)[:, TOOL_INDEX][None, :]
        z = discrimination[:, None] * (theta - difficulty[:, None])
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float32)

    # -- model side ------------------------------------------------------------------------------

    def descriptor_from_scores(self, model_id: str, scores: Mapping[str, float], *,
                               family: str | None = None, size_b: float | None = None,
                               measured_as: str | None = None) -> ModelDescriptor:
        """A descriptor from published per-category scores (every category of CATEGORIES), with the
        measured abilities of training model `measured_as` (if given) where the data has them."""
        missing = [c for c in CATEGORIES if c not in scores]
        if missing:
            raise ValueError(f"{model_id}: no score for {', '.join(missing)}")
        ability = [self.scale.ability(k, float(scores[c])) for k, c in enumerate(CATEGORIES)]
        basis = ["published"] * len(CATEGORIES)
        if measured_as is not None:
            row = self.train_models.index(measured_as)
            for k in range(len(CATEGORIES)):
                if self.train_measured[row, k]:
                    ability[k] = float(self.train_ability[row, k])
                    basis[k] = f"measured:{measured_as}"
        return ModelDescriptor(model_id, tuple(ability), tuple(basis),
                               family if family is not None else family_of(model_id),
                               size_b if size_b is not None else size_of(model_id))

    def training_descriptor(self, name: str) -> ModelDescriptor:
        """The fitted abilities of a model of the training data (unmeasured categories shrunk to its mean)."""
        row = self.train_models.index(name)
        basis = tuple(f"measured:{name}" if m else "fitted-prior" for m in self.train_measured[row])
        info = self.metadata.get("train_model_info", {}).get(name, {})
        return ModelDescriptor(name, tuple(float(t) for t in self.train_ability[row]), basis,
                               info.get("family"), info.get("size_b"))

    @property
    def aliases(self) -> dict[str, str]:
        """Catalogue id -> training-data model name, for the models that are exactly the same."""
        return dict(self.metadata.get("aliases", {}))


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


