"""Bounded work on request content: the classified text and the language tag read a bounded slice of
the prompt, and feature extraction off the loop leaves the event loop free even for a huge request.

No tight timing thresholds: the loop test allows a 0.5 s stall. Bounded, the largest heartbeat gap was
~0.07 s (on a busy 2-core machine); unbounded, a 40 MB prompt held the GIL for ~1.3 s in one
`str.split`, which stalls the event loop even from a worker thread.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from router.features.extract import FeatureExtractor
from router.features.language import detect_language
from router.features.text import HEAD_CHARS, SCAN_CHARS, TAIL_CHARS, classifier_text, last_user_text
from router.schemas import ChatCompletionRequest


def _unbounded_cut(text: str) -> str:
    """classifier_text as it was before bounding: the reference it must still agree with."""
    flat = " ".join(text.split())
    if len(flat) <= HEAD_CHARS + TAIL_CHARS + 5:
        return flat
    return flat[:HEAD_CHARS] + " ... " + flat[-TAIL_CHARS:]


def _text(rng: random.Random, words: int) -> str:
    spaces = [" ", "  ", "\n", "\t", " \n\n "]
    return "".join(rng.choice(["alpha", "beta", "γάμμα", "δ", "x" * rng.randint(1, 40)]) + rng.choice(spaces)
                   for _ in range(words))


def _request(messages: list[dict[str, Any]]) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "auto", "messages": messages})


@pytest.mark.parametrize("words", [0, 3, 80, 120, 4_000, 20_000, 60_000])
def test_bounded_cut_agrees_with_the_whole_text_cut(words: int) -> None:
    text = _text(random.Random(words), words)
    assert classifier_text(text) == _unbounded_cut(text)


def test_huge_prompt_keeps_head_and_tail() -> None:
    text = "Summarise this: " + "lorem ipsum " * 2_000_000 + "Answer in French."
    cut = classifier_text(text)
    assert cut.startswith("Summarise this: lorem") and cut.endswith("Answer in French.")
    assert cut == _unbounded_cut(text[:SCAN_CHARS] + " " + text[-SCAN_CHARS:])


def test_many_text_parts_give_the_same_cut_as_all_parts() -> None:
    rng = random.Random(7)
    parts: list[dict[str, Any]] = [{"type": "text", "text": _text(rng, 3)} for _ in range(30_000)]
    parts[5:5] = [{"type": "image_url", "image_url": {"url": "data:,"}}]
    request = _request([{"role": "user", "content": parts}])
    whole = "".join(str(p["text"]) for p in parts if p["type"] == "text")

    assert classifier_text(last_user_text(request)) == classifier_text(whole)
    assert len(last_user_text(request)) < 3 * SCAN_CHARS  # only the ends were joined
    short = _request([{"role": "user", "content": parts[:40]}])
    assert last_user_text(short) == short.messages[0].text()


def test_language_of_a_huge_prompt_reads_only_its_start() -> None:
    # The Ukrainian letter far past the sample must not matter (it did: the script check scanned all).
    assert detect_language("Привет, как дела? " * 1_000 + "ї" * 10) == "ru"
    assert detect_language("Як справи? Це її кіт.") == "uk"


async def test_a_huge_auto_request_does_not_block_the_event_loop() -> None:
    extractor = FeatureExtractor.load()
    huge = "Summarise the following. " + "word " * 8_000_000  # 40 MB
    messages = [{"role": "user" if i % 2 else "assistant", "content": f"turn {i}"} for i in range(100_000)]
    request = _request([*messages, {"role": "user", "content": huge}])
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.05)
    features = await asyncio.to_thread(extractor.extract, request)  # as RoutingService.features does
    beat.cancel()

    assert features.prompt_tokens > 13_000_000 // 3
    assert max(gaps) < 0.5, f"the event loop stalled for {max(gaps):.2f} s"
