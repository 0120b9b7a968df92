"""The trainers' embedding cache: by default the heads learn from the very vectors the router serves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from router.features.cache import EmbeddingCache, training_cache
from router.features.embedder import DEFAULT_MAX_SEQ_LENGTH, default_embedder
from router.features.onnx_embedder import OnnxEmbedder

TEXTS = ["hi there", "Prove that there are infinitely many primes.", "Write a haiku about routers."]


def test_the_default_runtime_embeds_with_the_serving_graph(tmp_path: Path) -> None:
    served = default_embedder()
    assert isinstance(served, OnnxEmbedder)

    cache, recorded = training_cache(tmp_path, "onnx", threads=1)

    np.testing.assert_array_equal(cache.embed(TEXTS), served.embed(TEXTS))
    assert recorded == {"runtime": "onnx", "export": served.model_file.parent.name}


def test_cached_vectors_are_reused_and_keyed_by_embedder(tmp_path: Path) -> None:
    class Counting:
        calls = 0

        def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            Counting.calls += len(texts)
            return np.ones((len(texts), 3), dtype=np.float32)

    first = EmbeddingCache(tmp_path / "c.npz", Counting(), "a", DEFAULT_MAX_SEQ_LENGTH)
    first.embed(TEXTS)
    EmbeddingCache(tmp_path / "c.npz", Counting(), "a", DEFAULT_MAX_SEQ_LENGTH).embed(TEXTS)
    assert Counting.calls == len(TEXTS)

    EmbeddingCache(tmp_path / "c.npz", Counting(), "b", DEFAULT_MAX_SEQ_LENGTH).embed(TEXTS)
    EmbeddingCache(tmp_path / "c.npz", Counting(), "a", DEFAULT_MAX_SEQ_LENGTH * 2).embed(TEXTS)
    assert Counting.calls == 3 * len(TEXTS)  # another embedder or window never reuses a vector


def test_an_unknown_runtime_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="known: onnx, torch"):
        training_cache(tmp_path, "tensorflow", threads=1)
