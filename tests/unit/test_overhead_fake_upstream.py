"""The overhead benchmark's fast fake upstream answers like OpenAI (checked with the official SDK), the
lean load client reads it correctly, and the benchmark's router serves it through the real adapters."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from benchmarks.overhead.fake_upstream import FakeUpstream, answer_text
from benchmarks.overhead.router_server import MODEL_ID, build_app
from benchmarks.overhead.steps import Target, run_step
from tests.fake_providers.runner import serve_app


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[str, FakeUpstream]]:
    app = FakeUpstream(pieces=5)
    with serve_app(app) as url:
        yield url + "/v1", app


def test_non_streamed_answer(fake: tuple[str, FakeUpstream]) -> None:
    url, _ = fake
    with openai.OpenAI(base_url=url, api_key="any", max_retries=0) as client:
        answer = client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hi"}])
    assert answer.model == "m1"
    assert answer.choices[0].message.content == answer_text(5)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.completion_tokens == 5


def test_streamed_answer_with_usage(fake: tuple[str, FakeUpstream]) -> None:
    url, _ = fake
    with openai.OpenAI(base_url=url, api_key="any", max_retries=0) as client:
        stream = client.chat.completions.create(model="m2", messages=[{"role": "user", "content": "hi"}],
                                                stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == answer_text(5)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 16


def test_bad_request_and_unknown_route_are_openai_errors(fake: tuple[str, FakeUpstream]) -> None:
    url, _ = fake
    reply = httpx.post(url + "/chat/completions", content=b"not json")
    assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error"
    assert httpx.get(url + "/nowhere").status_code == 404
    assert httpx.get(url + "/models").json()["data"][0]["id"] == "fake-model"


@pytest.mark.parametrize("mode", ["non-streaming", "streaming"])
def test_load_client_reads_every_answer(fake: tuple[str, FakeUpstream], mode: str) -> None:
    url, app = fake
    before = app.answered
    target = Target("direct", url + "/chat/completions", "fake-model")
    summary, outcomes = asyncio.run(run_step(target, mode, rate=40, duration_s=0.5, warmup_s=0, pieces=5,
                                             max_in_flight=50, timeout_s=5))
    assert summary.measured == 20 and summary.ok == 20, summary.sample_errors
    assert app.answered - before == 20
    assert all(o.first_byte <= o.done for o in outcomes)


def test_load_client_rejects_a_wrong_answer(fake: tuple[str, FakeUpstream]) -> None:
    url, _ = fake
    target = Target("direct", url + "/chat/completions", "fake-model")
    # the fake serves 5 pieces; expecting 8 makes every answer fail the check
    summary, _ = asyncio.run(run_step(target, "non-streaming", rate=20, duration_s=0.2, warmup_s=0, pieces=8,
                                      max_in_flight=10, timeout_s=5))
    assert summary.ok == 0 and summary.errors == 4


@pytest.mark.parametrize("stream", [False, True])
def test_benchmark_router_answers_through_the_real_adapter(fake: tuple[str, FakeUpstream],
                                                           stream: bool) -> None:
    url, _ = fake
    with tempfile.TemporaryDirectory() as tmp, serve_app(build_app(url, Path(tmp))) as router:
        with openai.OpenAI(base_url=router + "/v1", api_key="unused", max_retries=0) as client:
            if stream:
                chunks = list(client.chat.completions.create(
                    model=MODEL_ID, messages=[{"role": "user", "content": "hi"}], stream=True))
                text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            else:
                answer = client.chat.completions.create(model=MODEL_ID,
                                                        messages=[{"role": "user", "content": "hi"}])
                text = answer.choices[0].message.content or ""
        assert text == answer_text(5)
        auto = httpx.post(router + "/v1/chat/completions",
                          json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
        assert auto.status_code >= 500  # the benchmark router refuses to classify rather than fake it
