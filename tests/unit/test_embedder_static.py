"""The static embedder: distillation (models.static_distill), its lookup (router.features.static_embedder)
and the shipped static classifier's heads, quality model and decisions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks.eval.route_mix import DEPLOYMENTS, Group, route_mix
from models.catalogue import load_catalogue
from models.static_distill import TABLE_FILE, StaticSpec, _post_process, distil_table, prepare_static_table
from router.features.classifiers import CLASSIFIERS, classifier, load_classifier
from router.features.embedder import minilm_folder
from router.features.extract import FeatureExtractor
from router.features.static_embedder import StaticEmbedder
from router.routing.build import shipped_quality
from router.schemas import ChatCompletionRequest

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
HARD = "Prove that there are infinitely many primes."
CODING = "Write a Python function that merges two sorted lists in linear time."


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 1-layer BERT with MiniLM's tokenizer: distils in a second."""
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16)
    BertModel(config).save_pretrained(folder)  # type: ignore[no-untyped-call]
    for name in TOKENIZER_FILES:
        if (minilm_folder() / name).is_file():
            shutil.copy(minilm_folder() / name, folder / name)
    return folder


def test_distillation_is_deterministic_and_covers_the_vocabulary(tiny_model: Path) -> None:
    spec = StaticSpec(dims=8)
    first, second = distil_table(tiny_model, spec), distil_table(tiny_model, spec)
    assert first.shape == (30522, 8) and first.dtype == np.float16
    assert np.array_equal(first, second)
    assert np.isfinite(first.astype(np.float32)).all() and float(np.abs(first).max()) > 0


def test_prepared_table_is_cached_and_reused(tiny_model: Path, tmp_path: Path) -> None:
    spec = StaticSpec(dims=4, sif_coefficient=1e-4)
    table = prepare_static_table(tiny_model, tmp_path, spec)
    assert table.name == TABLE_FILE and np.load(table).shape == (30522, 4)
    written = table.stat().st_mtime_ns
    assert prepare_static_table(tiny_model, tmp_path, spec) == table
    assert table.stat().st_mtime_ns == written  # not distilled again
    other = prepare_static_table(tiny_model, tmp_path, StaticSpec(dims=2))
    assert other != table and not table.exists()  # another spec replaces the superseded table


def test_post_processing_centres_rotates_and_weights_frequent_tokens_less() -> None:
    raw = np.random.default_rng(0).normal(size=(500, 6)) * np.array([5.0, 1.0, 3.0, 0.5, 2.0, 1.0]) + 7.0
    rotated = _post_process(raw, StaticSpec(dims=None, sif_coefficient=None))
    assert np.allclose(rotated.mean(axis=0), 0.0, atol=1e-9)
    variances = rotated.var(axis=0)
    assert list(variances) == sorted(variances, reverse=True)  # principal axes, largest first
    assert np.allclose(np.linalg.norm(rotated, axis=1), np.linalg.norm(raw - raw.mean(axis=0), axis=1))
    assert np.array_equal(_post_process(-raw, StaticSpec(dims=3, sif_coefficient=None)),
                          _post_process(-raw, StaticSpec(dims=3, sif_coefficient=None)))
    weighted = _post_process(raw, StaticSpec(dims=None, sif_coefficient=1e-2))
    scale = np.linalg.norm(weighted, axis=1) / np.linalg.norm(rotated, axis=1)
    assert scale[0] < scale[-1] <= 1.0  # low ids (frequent by Zipf rank) count less


def test_a_text_is_the_normalised_mean_of_its_token_rows() -> None:
    from tokenizers import Tokenizer

    tokenizer_file = minilm_folder() / "tokenizer.json"
    table = np.random.default_rng(1).normal(size=(30522, 5)).astype(np.float32)
    embedder = StaticEmbedder(table, tokenizer_file)
    reference = Tokenizer.from_file(str(tokenizer_file))
    reference.no_padding()  # MiniLM's tokenizer.json pads to 128 tokens
    ids = reference.encode("Merge two sorted lists", add_special_tokens=False).ids
    expected = table[ids].mean(axis=0)
    vectors = embedder.embed(["  Merge two sorted lists ", "", "   "])
    assert np.allclose(vectors[0], expected / np.linalg.norm(expected), atol=1e-6)
    assert not vectors[1:].any()  # no tokens: a zero row, not NaN
    alone = embedder.embed(["Merge two sorted lists"])
    assert np.array_equal(alone[0], vectors[0])


def test_token_logits_are_mean_pooled_and_appended_unnormalised() -> None:
    from tokenizers import Tokenizer

    tokenizer_file = minilm_folder() / "tokenizer.json"
    rng = np.random.default_rng(2)
    table = rng.normal(size=(30522, 5)).astype(np.float32)
    logits = rng.normal(size=(30522, 3)).astype(np.float32)
    embedder = StaticEmbedder(table, tokenizer_file, token_logits=logits)
    reference = Tokenizer.from_file(str(tokenizer_file))
    reference.no_padding()
    ids = reference.encode("hi there", add_special_tokens=False).ids
    vector = embedder.embed(["hi there"])[0]
    assert embedder.dimension == 8 and vector.shape == (8,)
    assert np.allclose(np.linalg.norm(vector[:5]), 1.0, atol=1e-6)
    assert np.allclose(vector[5:], logits[ids].mean(axis=0), atol=1e-6)
    with pytest.raises(ValueError, match="token_logits"):
        StaticEmbedder(table, tokenizer_file, token_logits=logits[:10])


def test_token_table_and_head_reproduce_the_fitted_model() -> None:
    """The split of one logistic regression into a token table (appended by the embedder) and a head
    over [vector, appended logits] gives the regression's own probabilities."""
    import scipy.sparse as sp  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    from router.features.train_static import TOKEN_C, TOKEN_WEIGHT, fit_token_logits, mean_one_hot

    rng = np.random.default_rng(3)
    texts = ["hi there", "what is 17 * 23", "write a poem about the sea", "prove that 2 is prime",
             "good morning", "compute 3 + 4", "a haiku about rain", "show that 7 is prime"] * 3
    labels = np.array(["chat", "math", "writing", "math", "chat", "math", "writing", "math"] * 3)
    vectors = rng.normal(size=(len(texts), 4)).astype(np.float32)
    tokens = mean_one_hot(texts, minilm_folder() / "tokenizer.json")
    weights = np.ones(len(texts))
    table, head = fit_token_logits(vectors, tokens, labels, weights)
    appended = np.hstack([vectors, np.asarray(tokens @ table, dtype=np.float32)])
    direct = LogisticRegression(C=TOKEN_C, max_iter=3000).fit(
        sp.hstack([sp.csr_matrix(vectors), tokens * TOKEN_WEIGHT]).tocsr(), labels, sample_weight=weights)
    expected = direct.predict_proba(sp.hstack([sp.csr_matrix(vectors), tokens * TOKEN_WEIGHT]).tocsr())
    assert head.classes == tuple(direct.classes_)
    assert np.allclose(head.probabilities(appended), expected, atol=1e-4)


def test_a_table_smaller_than_the_vocabulary_is_refused() -> None:
    with pytest.raises(ValueError, match="does not cover"):
        StaticEmbedder(np.zeros((100, 4), dtype=np.float32), minilm_folder() / "tokenizer.json")


def test_unknown_classifier_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: minilm, static"):
        classifier("word2vec")
    assert set(CLASSIFIERS) == {"minilm", "static"}


@pytest.fixture(scope="module")
def static() -> FeatureExtractor:
    return load_classifier("static")  # the shipped static heads over the distilled table


def _request(text: str) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "auto", "messages": [{"role": "user", "content": text}]})


def test_shipped_static_heads_fit_the_distilled_table(static: FeatureExtractor) -> None:
    assert static.metadata["embedder"]["runtime"] == "static"
    assert static.metadata["embedder"]["token_logits"] is True
    assert static.quality_model is not None  # its category-head hash matched
    vectors = static.embed(["hi there", HARD])
    assert vectors.shape[1] == static.quality_model.difficulty_w.shape[0] == 384 + len(static.categories)


@pytest.mark.parametrize(("prompt", "category"), [
    (CODING, "coding"), ("What is 17*23?", "math"), ("hi, how are you?", "chit_chat"), (HARD, "math"),
    ("Write a short poem about the sea at night.", "writing"), ("hi there", "chit_chat"),
    ("thanks!", "chit_chat"),
])
def test_static_classifier_gets_obvious_categories(static: FeatureExtractor, prompt: str,
                                                   category: str) -> None:
    assert static.extract(_request(prompt)).category == category


def _cpu_box_choices(static: FeatureExtractor, prompts: tuple[str, ...]) -> list[dict[str, float]]:
    """The model chosen for each prompt on a CPU box (the 270M base model plus the frontier APIs)."""
    entries = [e for e in load_catalogue().models if e.capabilities.chat and DEPLOYMENTS["cpu-box"](e)]
    groups = [Group(p, (p,)) for p in prompts]
    return [g["models"] for g in route_mix(groups, entries, static, shipped_quality(entries, "static"))]


def test_static_decisions_keep_the_e2e_expectations(static: FeatureExtractor) -> None:
    """As tests/e2e/test_routing_value.py expects of the default classifier: a proof reaches a frontier
    model, a coding prompt leaves the base model, "hi there" stays on it."""
    frontier = {e.id for e in load_catalogue().models if not e.is_local}
    proof, code, hello = _cpu_box_choices(static, (HARD, CODING, "hi there"))
    assert set(proof) <= frontier
    assert "gemma-3-270m" not in code
    assert hello == {"gemma-3-270m": 1.0}


@pytest.mark.xfail(strict=True, reason="the static classifier sends 'thanks!' to a paid API (the e2e "
                                       "session test expects it local): one reason it is opt-in")
def test_static_decisions_keep_thanks_local(static: FeatureExtractor) -> None:
    assert _cpu_box_choices(static, ("thanks!",)) == [{"gemma-3-270m": 1.0}]


def test_serve_and_eval_take_the_classifier_and_refuse_unknown_ones() -> None:
    from stellwerk_cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["serve"]).classifier == "minilm"  # the default stays MiniLM
    assert parser.parse_args(["serve", "--classifier", "static"]).classifier == "static"
    assert parser.parse_args(["eval", "--decision", "--data", "x.jsonl", "--classifier", "static"]
                             ).classifier == "static"
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--classifier", "word2vec"])
