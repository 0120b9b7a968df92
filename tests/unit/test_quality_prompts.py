"""The quality model on real prompts through the real embedder (all-MiniLM-L6-v2) and the features."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from models.catalogue import load_catalogue
from models.quality import QualityTable
from router.features.embedder import MiniLMEmbedder
from router.features.extract import DEFAULT_ARTIFACTS, FeatureExtractor
from router.features.heads import LinearHead
from router.quality.predictor import QualityPredictor
from router.schemas import ChatCompletionRequest

FRONTIER = ("openai/gpt-4.1", "anthropic/claude-sonnet-4", "gemini/gemini-2.5-pro")
TINY = "gemma-3-270m"
HARD = ("Prove that there are infinitely many primes.",
        "Implement a thread-safe, lock-free hash map in C++ and prove that it is linearizable.")
TRIVIAL = ("hi there", "What is the capital of France?")


class CountingEmbedder:
    """The real embedder, counting its calls."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        return self.inner.embed(texts)


@pytest.fixture(scope="module")
def embedder() -> CountingEmbedder:
    return CountingEmbedder(MiniLMEmbedder())


@pytest.fixture(scope="module")
def extractor(embedder: CountingEmbedder) -> FeatureExtractor:
    return FeatureExtractor.load(embedder=embedder)


@pytest.fixture(scope="module")
def predictor(extractor: FeatureExtractor) -> QualityPredictor:
    assert extractor.quality_model is not None
    return QualityPredictor.from_catalogue(load_catalogue().models, QualityTable.load(),
                                           extractor.quality_model)


def _request(text: str) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "auto", "messages": [{"role": "user", "content": text}]})


def _p(extractor: FeatureExtractor, predictor: QualityPredictor, text: str, model_id: str) -> float:
    features = extractor.extract(_request(text))
    entry = load_catalogue().get(model_id)
    assert entry is not None
    p = predictor.predict(features, entry)
    assert p is not None
    return p


def test_extract_computes_the_profile_from_the_one_embedding(extractor: FeatureExtractor,
                                                             embedder: CountingEmbedder) -> None:
    before = embedder.calls
    features = extractor.extract(_request("Write a haiku about coffee."))
    assert embedder.calls == before + 1
    assert features.profile is not None
    data = json.loads(json.dumps(features.to_json()))
    assert "coffee" not in json.dumps(data)
    assert sum(data["profile"]["category_weights"].values()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("hard", HARD)
def test_hard_prompt_is_harder_than_trivial_for_the_tiny_model(
        extractor: FeatureExtractor, predictor: QualityPredictor, hard: str) -> None:
    p_hard = _p(extractor, predictor, hard, TINY)
    for trivial in TRIVIAL:
        assert p_hard < _p(extractor, predictor, trivial, TINY) - 0.2
    assert p_hard < 0.3


@pytest.mark.parametrize("hard", HARD)
@pytest.mark.parametrize("frontier", FRONTIER)
def test_frontier_beats_the_tiny_model_on_hard_prompts(
        extractor: FeatureExtractor, predictor: QualityPredictor, hard: str, frontier: str) -> None:
    assert _p(extractor, predictor, hard, frontier) > _p(extractor, predictor, hard, TINY) + 0.3


def test_trivial_prompts_are_fine_for_small_local_models(extractor: FeatureExtractor,
                                                         predictor: QualityPredictor) -> None:
    for text in TRIVIAL:
        for model_id in ("llama-3.1-8b-instruct", "qwen2.5-7b-instruct", "gpt-oss-20b"):
            assert _p(extractor, predictor, text, model_id) > 0.8


def test_profiles_batch_equals_extract(extractor: FeatureExtractor) -> None:
    texts = [*TRIVIAL, *HARD]
    batch = extractor.profiles(texts)
    for text, profile in zip(texts, batch, strict=True):
        single = extractor.extract(_request(text)).profile
        assert single is not None
        assert single.difficulty == pytest.approx(profile.difficulty, abs=1e-4)


def test_quality_model_refuses_another_category_head(tmp_path: Path, embedder: CountingEmbedder) -> None:
    folder = tmp_path / "features"
    shutil.copytree(DEFAULT_ARTIFACTS, folder)
    head = LinearHead.load(folder / "category_head.npz")
    LinearHead(head.weights * 1.01, head.bias, head.classes).save(folder / "category_head.npz")
    with pytest.raises(ValueError, match="another category head"):
        FeatureExtractor.load(folder, embedder=embedder)
