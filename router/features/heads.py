"""Linear heads over sentence embeddings, evaluated with numpy alone at run time.

Training fits them with scikit-learn (router.features.train) and stores only the weights: a softmax
head (category) and a sigmoid head (quality) are `x @ W.T + b` plus a link function, so the router
needs no scikit-learn and the artifacts stay a few kilobytes to a few hundred kilobytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["LinearHead"]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LinearHead:
    """Weights (k x d), bias (k) and class names; k == 1 with one class name means a sigmoid head."""

    weights: FloatArray
    bias: FloatArray
    classes: tuple[str, ...]

    def logits(self, x: FloatArray) -> FloatArray:
        return np.asarray(x @ self.weights.T + self.bias, dtype=np.float32)

    def probabilities(self, x: FloatArray) -> FloatArray:
        """Softmax over classes (n x k), or for a sigmoid head P(positive) as an (n,) array."""
        z = self.logits(x)
        if self.is_binary:
            return np.asarray(1.0 / (1.0 + np.exp(-z[:, 0])), dtype=np.float32)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float32)

    @property
    def is_binary(self) -> bool:
        return bool(self.weights.shape[0] == 1)

    def save(self, path: Path) -> None:
        np.savez(path, weights=self.weights.astype(np.float32), bias=self.bias.astype(np.float32),
                 classes=np.array(self.classes, dtype=str))

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        with np.load(path, allow_pickle=False) as data:
            weights = np.asarray(data["weights"], dtype=np.float32)
            bias = np.asarray(data["bias"], dtype=np.float32)
            classes = tuple(str(c) for c in data["classes"])
        if weights.ndim != 2 or bias.shape != (weights.shape[0],):
            raise ValueError(f"{path}: weights {weights.shape} and bias {bias.shape} do not fit")
        return cls(weights, bias, classes)
