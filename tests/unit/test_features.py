"""Request features: structural fields, language, split, heads, and the trained classifier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.categories import CATEGORIES
from router.features.extract import FeatureExtractor
from router.features.heads import LinearHead
from router.features.language import detect_language
from router.features.metrics import roc_auc
from router.features.split import is_held_out
from router.features.text import HEAD_CHARS, TAIL_CHARS, classifier_text
from router.schemas import ChatCompletionRequest


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor.load()  # the packaged artifacts and the real MiniLM, once per module


def _request(content: Any, **extra: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "auto", "messages": [{"role": "user", "content": content}], **extra})


def test_artifacts_load_with_every_category(extractor: FeatureExtractor) -> None:
    assert set(extractor.categories) == set(CATEGORIES)
    assert extractor.metadata["category_head"]["n_held_out"] > 0


@pytest.mark.parametrize(("prompt", "category"), [
    ("Write a Python function that checks whether a string is a palindrome.", "coding"),
    ("What is 17*23?", "math"),
    ("hi, how are you?", "chit_chat"),
    ("Summarize the following text in one sentence: The council voted on Monday to extend the tram "
     "line to the northern suburbs; construction starts next spring.", "extraction"),
    ("Write a short poem about the sea at night.", "writing"),
    # The examples ("hi there" was tool_use, the proof coding).
    ("hi there", "chit_chat"),
    ("Prove that there are infinitely many primes.", "math"),
])
def test_obvious_prompts_classify_right(extractor: FeatureExtractor, prompt: str, category: str) -> None:
    features = extractor.extract(_request(prompt))
    assert features.category == category
    assert 0.0 < features.category_confidence <= 1.0


@pytest.mark.parametrize("prompt", ["What is the capital of France?",
                                    "Calculate the area of a circle of radius 3.",
                                    "Thanks! Can you recommend a good book for a long flight?"])
def test_tool_use_needs_tools(extractor: FeatureExtractor, prompt: str) -> None:
    # The head reads these as BFCL-like (its tool_use class sees no tool schemas); without tools in
    # the request the category is the best other class, with tools it may be tool_use.
    assert extractor.classify([prompt])[0][extractor.categories.index("tool_use")] > 0.3
    assert extractor.extract(_request(prompt)).category != "tool_use"
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    assert extractor.extract(_request(prompt, tools=tools)).category == "tool_use"


def test_classify_and_p_weak_ok_are_batched(extractor: FeatureExtractor) -> None:
    probs = extractor.classify(["hello", "Solve x^2 = 9"])
    assert probs.shape == (2, len(extractor.categories))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    p = extractor.p_weak_ok(["What is 2+2?", "Prove the Riemann hypothesis."])
    assert p.shape == (2,) and np.all((p > 0) & (p < 1))


def test_structural_features_tools_json_images(extractor: FeatureExtractor) -> None:
    parts = [{"type": "text", "text": "What is in this picture?"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    features = extractor.extract(_request(parts, tools=[tool], response_format={"type": "json_object"},
                                          max_completion_tokens=50))
    assert (features.needs_tools, features.needs_json, features.has_images) == (True, True, True)
    assert features.max_tokens == 50 and features.prompt_tokens > 0
    plain = extractor.extract(_request("hi", tools=[tool], tool_choice="none",
                                       response_format={"type": "text"}, max_tokens=7))
    assert (plain.needs_tools, plain.needs_json, plain.has_images) == (False, False, False)
    assert plain.max_tokens == 7


def test_request_without_user_text_gets_default(extractor: FeatureExtractor) -> None:
    image_only = [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]
    features = extractor.extract(_request(image_only))
    assert (features.category, features.category_confidence, features.p_weak_ok) == ("general", 0.0, None)
    assert features.profile is None and features.to_json()["profile"] is None
    assert features.language == "und"


def test_to_json_has_no_prompt_text(extractor: FeatureExtractor) -> None:
    secret = "My IBAN is DE89370400440532013000, please summarize my bank statement"
    data = extractor.extract(_request(secret)).to_json()
    dumped = json.dumps(data)
    assert "IBAN" not in dumped and "DE89" not in dumped
    assert set(data) == {"prompt_tokens", "max_tokens", "needs_tools", "needs_json", "has_images",
                         "language", "category", "category_confidence", "p_weak_ok", "profile"}
    assert set(data["profile"]) == {"difficulty", "discrimination", "category_weights"}


@pytest.mark.parametrize(("text", "language"), [
    ("hi, how are you?", "en"),
    ("Write a Python function that reverses a list.", "en"),
    ("Hallo, wie geht es dir? Ich habe eine Frage.", "de"),
    ("Bonjour, ça va ? Je voudrais un café.", "fr"),
    ("¿Cómo puedo ahorrar dinero cada mes?", "es"),
    ("Ciao, come stai? Che cosa fai oggi?", "it"),
    ("你好，最近怎么样？", "zh"),  # noqa: RUF001
    ("こんにちは、元気ですか？", "ja"),  # noqa: RUF001
    ("안녕하세요, 반갑습니다", "ko"),
    ("Привет, как дела?", "ru"),
    ("Як справи? Це її кіт.", "uk"),
    ("مرحبا كيف حالك", "ar"),
    ("12345 + 678", "und"),
    ("", "und"),
])
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_is_held_out_is_deterministic_and_about_twenty_percent() -> None:
    prompts = [f"prompt number {i}" for i in range(2000)]
    first = [is_held_out(p) for p in prompts]
    assert first == [is_held_out(p) for p in prompts]
    assert is_held_out("  same text \n") == is_held_out("same text")
    assert 0.17 < sum(first) / len(first) < 0.23


def test_classifier_text_keeps_head_and_tail() -> None:
    text = "start " + "x" * 5000 + " end"
    cut = classifier_text(text)
    assert cut.startswith("start") and cut.endswith("end")
    assert len(cut) <= HEAD_CHARS + TAIL_CHARS + 5
    assert classifier_text("  short\n text ") == "short text"


def test_linear_head_round_trip(tmp_path: Path) -> None:
    head = LinearHead(np.array([[1.0, -1.0], [0.0, 2.0]], dtype=np.float32),
                      np.zeros(2, dtype=np.float32), ("a", "b"))
    head.save(tmp_path / "h.npz")
    loaded = LinearHead.load(tmp_path / "h.npz")
    assert loaded.classes == ("a", "b")
    probs = loaded.probabilities(np.array([[1.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(probs, [[np.e / (np.e + 1), 1 / (np.e + 1)]], rtol=1e-5)


def test_roc_auc_with_ties() -> None:
    truth = np.array([True, False, True, False])
    assert roc_auc(truth, np.array([0.9, 0.1, 0.5, 0.5], dtype=np.float32)) == pytest.approx(0.875)


def _script_counts_per_character(text: str) -> dict[str, int]:
    """The obvious per-character count, as an oracle for the faster one."""
    import unicodedata

    counts: dict[str, int] = {}
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "")
            script = name.split(" ", 1)[0] if name else "UNKNOWN"
            counts[script] = counts.get(script, 0) + 1
    return counts


def test_script_counts_match_a_per_character_count() -> None:
    from router.features.language import _script_counts

    seeds = Path(__file__).resolve().parents[2] / "router" / "features" / "seed_prompts.jsonl"
    texts = [json.loads(line)["prompt"] for line in seeds.read_text().splitlines()]
    texts += ["Привет, как дела? Hello! 你好，こんにちは 안녕 مرحبا ΑΒΓ ĳ ǅ", "ℌ𝔢𝔩𝔩𝔬 ᚠᚢᚦ"]  # noqa: RUF001
    for text in texts:
        assert dict(_script_counts(text)) == _script_counts_per_character(text), text
