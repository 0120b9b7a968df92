"""The fast ONNX encoder: same space as the torch MiniLM, the cached export, and the torch fallback.

The ONNX graph is exported for real from the packaged MiniLM, once per machine into the prepared-models
cache (the file the router itself uses; about 20 s the first time, milliseconds after).
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from models.encoder_export import DEFAULT_ENCODER, ENCODER_FILE, EncoderSpec, encoder_path, prepare_encoder
from models.prepare import MARKER_NAME, default_cache_root
from router.features.embedder import MiniLMEmbedder, default_embedder, minilm_folder
from router.features.onnx_embedder import OnnxEmbedder
from router.features.text import classifier_text

SEED_PROMPTS = Path(__file__).resolve().parents[2] / "router" / "features" / "seed_prompts.jsonl"


def _one_by_one(embedder: OnnxEmbedder, texts: list[str]) -> np.ndarray:
    """As the router embeds: one text per call."""
    return np.vstack([embedder.embed([t]) for t in texts])


@pytest.fixture(scope="module")
def fast() -> OnnxEmbedder:
    embedder = default_embedder()
    assert isinstance(embedder, OnnxEmbedder)  # onnxruntime is a dependency: no fallback here
    return embedder


@pytest.fixture(scope="module")
def torch_embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def prompts() -> list[str]:
    rows = [json.loads(line) for line in SEED_PROMPTS.read_text().splitlines()]
    return [classifier_text(r["prompt"]) for r in rows[::6]]  # ~50, every category


def test_vectors_have_the_torch_shape_and_unit_length(fast: OnnxEmbedder) -> None:
    vectors = fast.embed(["hello", "a longer sentence about routing", ""])

    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert fast.embed([]).shape == (0, 384)


def test_same_space_as_the_torch_embedder(fast: OnnxEmbedder, torch_embedder: MiniLMEmbedder,
                                          prompts: list[str]) -> None:
    cosines = np.sum(_one_by_one(fast, prompts) * torch_embedder.embed(prompts), axis=1)

    assert cosines.mean() >= 0.99, cosines.mean()
    assert cosines.min() >= 0.97, cosines.min()


def test_long_texts_are_cut_to_the_torch_window(fast: OnnxEmbedder, torch_embedder: MiniLMEmbedder) -> None:
    # 400 words is far past the window: both must see only its first tokens, so the tail cannot matter.
    text = "the quick brown fox jumps over the lazy dog " * 50
    a, b = fast.embed([text, text + " completely different ending about quantum chromodynamics"])

    assert float(a @ b) > 0.999
    assert float(a @ torch_embedder.embed([text])[0]) >= 0.97


def test_a_text_gets_the_same_vector_alone_and_in_a_batch(fast: OnnxEmbedder, prompts: list[str]) -> None:
    # int8 activations are scaled per call: batching with padding would move vectors (cosine ~0.96).
    np.testing.assert_array_equal(fast.embed(prompts[:8]), _one_by_one(fast, prompts[:8]))


def test_export_is_cached_and_reused(fast: OnnxEmbedder) -> None:
    marker = fast.model_file.parent / MARKER_NAME
    before = marker.stat().st_mtime_ns

    again = prepare_encoder(minilm_folder(), default_cache_root())

    assert again == fast.model_file and again.name == ENCODER_FILE
    assert marker.stat().st_mtime_ns == before
    report = json.loads(marker.read_text())
    assert report["check_mean_cosine"] >= 0.99 and report["package"] == DEFAULT_ENCODER.package


def test_cache_key_follows_package_version_and_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = encoder_path(DEFAULT_ENCODER, tmp_path)
    assert first == encoder_path(DEFAULT_ENCODER, tmp_path)
    assert encoder_path(EncoderSpec(DEFAULT_ENCODER.package, quantize=False), tmp_path) != first
    other_window = EncoderSpec(DEFAULT_ENCODER.package, max_seq_length=DEFAULT_ENCODER.max_seq_length * 2)
    assert encoder_path(other_window, tmp_path) != first

    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "9.9.9" if name == DEFAULT_ENCODER.package else real(name))
    bumped = encoder_path(DEFAULT_ENCODER, tmp_path)

    assert bumped != first and "-9.9.9-onnx-" in bumped.name


def test_falls_back_to_torch_without_onnxruntime(monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    monkeypatch.delitem(sys.modules, "router.features.onnx_embedder")

    with caplog.at_level(logging.WARNING, logger="router.features.embedder"):
        embedder = default_embedder()

    assert isinstance(embedder, MiniLMEmbedder)
    assert "torch embedder" in caplog.text and "onnxruntime" in caplog.text
    assert embedder.embed(["still works"]).shape == (1, 384)
