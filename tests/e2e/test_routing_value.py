"""The routing decision end to end on the real stack (Gemma on vLLM + fake providers, one of them a
frontier model): a hard prompt goes to the frontier model, a trivial one stays local, a conversation
stays on its model, and a frontier-share header caps how many requests reach the frontier model."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openai

from tests.e2e.conftest import CHAT_MODEL, FRONTIER_MODELS, Stack

HARD = ("Prove that there are infinitely many prime numbers, then prove that there are infinitely many "
        "primes of the form 4k+3, explaining each step rigorously.")
TRIVIAL = "hi there"


def _route(stack: Stack, messages: list[dict[str, str]],
           headers: dict[str, str] | None = None) -> dict[str, Any]:
    reply = httpx.post(stack.api + "/route", json={"model": "auto", "messages": messages},
                       headers=headers or {}, timeout=60)
    assert reply.status_code == 200, reply.text
    decision: dict[str, Any] = reply.json()
    return decision


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_a_hard_prompt_goes_to_the_frontier_model_and_a_trivial_one_stays_local(client: openai.OpenAI,
                                                                                 stack: Stack) -> None:
    hard = _route(stack, _user(HARD))
    trivial = _route(stack, _user(TRIVIAL))

    assert (hard["model"] in FRONTIER_MODELS, hard["objective"]) == (True, "balanced"), hard
    assert trivial["model"] == CHAT_MODEL, trivial
    scored = {c["model"]: c for c in hard["candidates"]}
    # Each candidate shows its predicted quality and cost; Gemma is predicted far worse on the proof.
    assert scored[CHAT_MODEL]["quality"] < scored[hard["model"]]["quality"] - 0.2
    assert scored[hard["model"]]["frontier"] and scored[hard["model"]]["est_cost"] > 0
    raw = client.chat.completions.with_raw_response.create(model="auto", max_tokens=16, messages=_user(HARD))
    assert raw.headers["x-stellwerk-model"] in FRONTIER_MODELS
    assert raw.headers["x-stellwerk-route"] == "best-value"


def test_a_conversation_stays_on_its_first_model(client: openai.OpenAI) -> None:
    session = {"x-stellwerk-session": f"e2e-{uuid.uuid4().hex}"}
    first = client.chat.completions.with_raw_response.create(
        model="auto", max_tokens=16, messages=_user(HARD), extra_headers=session)
    assert first.headers["x-stellwerk-model"] in FRONTIER_MODELS
    answer = first.parse().choices[0].message.content or ""
    follow_up = [*_user(HARD), {"role": "assistant", "content": answer}, *_user("thanks!")]

    later = client.chat.completions.with_raw_response.create(
        model="auto", max_tokens=16, messages=follow_up, extra_headers=session)
    alone = client.chat.completions.with_raw_response.create(
        model="auto", max_tokens=16, messages=_user("thanks!"))

    assert later.headers["x-stellwerk-model"] == first.headers["x-stellwerk-model"]
    assert later.headers["x-stellwerk-route"] == "session"
    assert alone.headers["x-stellwerk-model"] == CHAT_MODEL  # the same words outside the session stay local


def test_a_frontier_share_header_caps_the_frontier_share(client: openai.OpenAI) -> None:
    cap = {"x-stellwerk-frontier-share": "0.2"}
    models = []
    for i in range(20):
        raw = client.chat.completions.with_raw_response.create(
            model="auto", max_tokens=8, messages=_user(f"{HARD} (variant {i})"), extra_headers=cap)
        models.append(raw.headers["x-stellwerk-model"])
    frontier = sum(m in FRONTIER_MODELS for m in models)
    print(f"frontier share under a 0.2 cap: {frontier}/20 ({models})")
    assert 1 <= frontier <= 6
    assert all(m != CHAT_MODEL for m in models)  # refused ones go to a non-frontier remote, not to Gemma
