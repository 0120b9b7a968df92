"""One load step (a target, a mode, a rate): send open-loop load through the lean client, check every
answer, and summarize. Also the request body all targets get, and what a valid answer looks like."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.overhead.client import ConnectionPool, Reply, encode_request
from benchmarks.overhead.fake_upstream import answer_pieces, answer_text
from benchmarks.overhead.schedule import Outcome, run_open_loop, send_offsets
from benchmarks.overhead.stats import StepSummary, summarize

__all__ = ["MODES", "Target", "check_reply", "request_body", "run_step"]

MODES = ("non-streaming", "streaming")
_PROMPT = "Which route does the next train take?"


@dataclass(frozen=True)
class Target:
    """Where load goes: `url` is the chat completions endpoint, `model` the name it knows the fake by."""

    name: str
    url: str
    model: str


def request_body(model: str, mode: str) -> dict[str, object]:
    body: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": _PROMPT}],
                               "max_tokens": 16}
    if mode == "streaming":
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def check_reply(reply: Reply, mode: str, text: str, pieces: Sequence[str] = ()) -> None:
    """Raise ValueError unless the reply is a whole, successful answer carrying `text` (cheap byte
    checks, as this runs inside the timed path: a stream must carry each of `pieces` and end with
    [DONE]). NOTE: pieces, not `text.split()`: past 16 pieces the answer wraps as "lock.The", a word no
    chunk carries."""
    if reply.status != 200:
        raise ValueError(f"HTTP {reply.status}: {reply.body[:120]!r}")
    if mode == "streaming":
        if not reply.body.rstrip().endswith(b"data: [DONE]"):
            raise ValueError("the stream did not end with data: [DONE]")
        missing = [w for w in pieces or text.split() if json.dumps(w)[1:-1].encode() not in reply.body]
        if missing:
            raise ValueError(f"the stream lacks pieces {missing[:3]}")
    elif json.dumps(text)[1:-1].encode() not in reply.body:
        raise ValueError(f"the answer lacks the expected text: {reply.body[:120]!r}")


async def run_step(target: Target, mode: str, rate: float, duration_s: float, warmup_s: float, *,
                   pieces: int, max_in_flight: int, timeout_s: float,
                   on_sent: Callable[[], None] | None = None) -> tuple[StepSummary, list[Outcome]]:
    """Offer `rate` requests/s for `warmup_s + duration_s` seconds; the warm-up is left out of the summary."""
    host, port, raw = encode_request(target.url, request_body(target.model, mode))
    text = answer_text(pieces)
    parts = sorted(set(answer_pieces(pieces)))
    pool = ConnectionPool(host, port, max_connections=max_in_flight)

    async def fire() -> tuple[float, float]:
        reply = await pool.send(raw, timeout_s)
        check_reply(reply, mode, text, parts)
        return reply.first_byte_at, reply.done_at

    try:
        outcomes = await run_open_loop(send_offsets(rate, warmup_s + duration_s), fire,
                                       max_in_flight=max_in_flight, on_sent=on_sent)
    finally:
        pool.close()
    return summarize(target.name, mode, rate, outcomes, warmup_s), outcomes
