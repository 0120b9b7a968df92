"""router.quality: artifacts, prediction, descriptors and the ability scale (no embedder needed)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from models.catalogue import load_catalogue
from models.categories import CATEGORIES
from models.quality import QualityTable
from router.features.request_features import RequestFeatures
from router.quality.descriptor import ModelDescriptor, family_of, size_of
from router.quality.model import QualityModel
from router.quality.predictor import QualityPredictor
from router.quality.profile import PromptProfile, mixed_ability
from router.quality.scale import AbilityScale

K = len(CATEGORIES)


@pytest.fixture(scope="module")
def model() -> QualityModel:
    return QualityModel.load()


def _profile(difficulty: float = 0.0, discrimination: float = 1.0, category: str = "math") -> PromptProfile:
    weights = [0.0] * K
    weights[CATEGORIES.index(category)] = 1.0
    return PromptProfile(difficulty, discrimination, tuple(weights))


def _flat(model_id: str, theta: float) -> ModelDescriptor:
    return ModelDescriptor(model_id, (theta,) * K, ("test",) * K)


def test_artifacts_load_with_every_category_and_metrics(model: QualityModel) -> None:
    assert model.scale.pools.shape[0] == K and model.train_ability.shape == (len(model.train_models), K)
    assert len(model.train_models) >= 50
    assert set(model.aliases.values()) <= set(model.train_models)
    pooled = model.metadata["metrics"]["seen"]["pooled"]
    assert pooled["auc"] > 0.7 and pooled["ece"] < 0.05


def test_predict_is_a_probability_and_monotone_in_ability(model: QualityModel) -> None:
    profile = _profile(difficulty=0.5, discrimination=1.5)
    ps = [model.predict(profile, _flat("m", t)) for t in np.linspace(-6, 6, 25)]
    assert all(0.0 <= p <= 1.0 for p in ps)
    assert all(b > a for a, b in itertools.pairwise(ps))
    harder = [model.predict(_profile(difficulty=d), _flat("m", 1.0)) for d in (-2.0, 0.0, 2.0)]
    assert harder[0] > harder[1] > harder[2]


def test_predict_many_matches_predict(model: QualityModel) -> None:
    profiles = [_profile(-1.0, 0.7, "coding"), _profile(2.0, 2.0, "knowledge")]
    descriptors = [_flat("a", -0.5), ModelDescriptor("b", tuple(np.linspace(-1, 3, K)), ("test",) * K)]
    many = QualityModel.predict_many(
        np.array([p.difficulty for p in profiles], dtype=np.float32),
        np.array([p.discrimination for p in profiles], dtype=np.float32),
        np.array([p.weights for p in profiles], dtype=np.float32),
        np.array([d.ability for d in descriptors], dtype=np.float32))
    single = [[model.predict(p, d) for d in descriptors] for p in profiles]
    np.testing.assert_allclose(many, single, rtol=1e-5)


def test_tool_use_ability_counts_only_with_tools() -> None:
    weights = [0.0] * K
    weights[CATEGORIES.index("tool_use")] = 0.9
    weights[CATEGORIES.index("knowledge")] = 0.1
    ability = [1.0] * K
    ability[CATEGORIES.index("tool_use")] = -5.0
    assert mixed_ability(weights, ability) == pytest.approx(1.0)
    assert mixed_ability(weights, ability, needs_tools=True) == pytest.approx(-2.0)


def test_every_catalogue_chat_model_has_a_descriptor(model: QualityModel) -> None:
    entries = load_catalogue().models
    predictor = QualityPredictor.from_catalogue(entries, QualityTable.load(), model)
    chat = {e.id for e in entries if e.task == "chat"}
    assert set(predictor.descriptors) == chat
    assert "all-minilm-l6-v2" not in predictor.descriptors
    for descriptor in predictor.descriptors.values():
        assert all(math.isfinite(t) for t in descriptor.ability)
    measured = predictor.descriptors["llama-3.1-8b-instruct"].basis
    assert any(b.startswith("measured:Meta-Llama-3.1-8B-Instruct") for b in measured)
    assert set(predictor.descriptors["gemini/gemini-2.5-pro"].basis) == {"published"}


def test_unknown_model_from_published_scores(model: QualityModel) -> None:
    weak = model.descriptor_from_scores("acme/tiny", {c: 0.3 for c in CATEGORIES})
    strong = model.descriptor_from_scores("acme/huge", {c: 0.9 for c in CATEGORIES})
    assert weak.basis == ("published",) * K and strong.size_b is None and weak.family == "tiny"
    for category in ("math", "coding", "knowledge", "writing"):
        profile = _profile(0.0, 1.0, category)
        assert model.predict(profile, strong) > model.predict(profile, weak)
    with pytest.raises(ValueError, match="no score for"):
        model.descriptor_from_scores("acme/partial", {"math": 0.5})


def test_predictor_returns_none_without_profile_or_descriptor(model: QualityModel) -> None:
    entries = load_catalogue().models
    predictor = QualityPredictor.from_catalogue(entries, QualityTable.load(), model)
    features = RequestFeatures(10, None, False, False, False, "en", "general", 0.0, None)
    entry = next(e for e in entries if e.id == "gemma-3-270m")
    assert predictor.predict(features, entry) is None
    with_profile = RequestFeatures(10, None, False, False, False, "en", "general", 0.0, None, _profile())
    p = predictor.predict(with_profile, entry)
    assert p is not None and 0.0 < p < 1.0
    embedder = next(e for e in entries if e.id == "all-minilm-l6-v2")
    assert predictor.predict(with_profile, embedder) is None


def test_profile_is_json_safe_and_round_trips() -> None:
    profile = PromptProfile(1.23456, 0.5, tuple(np.linspace(0, 1, K) / np.linspace(0, 1, K).sum()))
    features = RequestFeatures(10, None, False, False, False, "en", "math", 0.9, 0.5, profile)
    data = json.loads(json.dumps(features.to_json()))
    assert data["profile"]["difficulty"] == 1.2346
    assert set(data["profile"]["category_weights"]) == set(CATEGORIES)
    back = PromptProfile.from_json(data["profile"])
    assert back.difficulty == pytest.approx(profile.difficulty, abs=1e-4)
    with pytest.raises(ValueError, match="category weights"):
        PromptProfile(0.0, 1.0, (1.0,))


def test_ability_scale_inverts_its_characteristic_curve() -> None:
    rng = np.random.default_rng(0)
    pool = np.stack([rng.uniform(0.5, 2.0, 64), rng.normal(0.0, 1.5, 64)], axis=1)
    scale = AbilityScale(np.repeat(pool[None], K, axis=0).astype(np.float32),
                         np.full(K, 0.5, dtype=np.float32))
    abilities = [scale.ability(0, s) for s in (0.1, 0.3, 0.5, 0.7, 0.9)]
    assert all(b > a for a, b in itertools.pairwise(abilities))
    for s in (0.2, 0.6, 0.85):
        assert scale.expected_score(0, scale.ability(0, s)) == pytest.approx(s, abs=1e-4)


def test_size_and_family_from_ids() -> None:
    assert size_of("gemma-3-270m") == pytest.approx(0.27)
    assert size_of("llama-3.1-8b-instruct") == 8.0
    assert size_of("gpt-oss-20b") == 20.0
    assert size_of("openai/gpt-4.1") is None
    assert family_of("openai/gpt-4o-mini") == "gpt"


def test_training_descriptors_order_models_as_the_data_does(model: QualityModel) -> None:
    """Models of the training data keep their fitted abilities; their order follows the outcomes."""
    profile = _profile(0.5, 1.0, "math")
    p = {n: model.predict(profile, model.training_descriptor(n))
         for n in ("gemma-2-2b-it", "Meta-Llama-3.1-8B-Instruct", "gpt-4o-2024-08-06", "o1-mini-2024-09-12")}
    order = ["gemma-2-2b-it", "Meta-Llama-3.1-8B-Instruct", "gpt-4o-2024-08-06", "o1-mini-2024-09-12"]
    assert [p[n] for n in order] == sorted(p.values())
    descriptor = model.training_descriptor("gemma-2-2b-it")
    assert descriptor.basis[CATEGORIES.index("math")] == "measured:gemma-2-2b-it"
    assert descriptor.size_b == pytest.approx(2.6)
    with pytest.raises(ValueError):
        model.training_descriptor("no-such-model")
