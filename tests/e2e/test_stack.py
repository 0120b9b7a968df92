"""End to end: the real stack driven with the official `openai` SDK."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import CHAT_MODEL, EMBEDDING_MODEL, FAKE_REMOTES, Stack

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def test_models_lists_local_models_and_auto(client: openai.OpenAI, stack: Stack) -> None:
    ids = {m.id for m in client.models.list()}
    assert {CHAT_MODEL, EMBEDDING_MODEL, "auto"} <= ids
    everything = httpx.get(stack.api + "/models", params={"all": "true"}).json()["data"]
    unavailable = {m["id"]: m["stellwerk"]["reason"] for m in everything if not m["stellwerk"]["available"]}
    assert "needs a GPU" in unavailable["gpt-oss-20b"]
    assert "OPENAI_API_KEY" in unavailable["openai/gpt-6.2-sol"]  # a real provider's entry, no key here
    assert set(FAKE_REMOTES) <= ids, "remote models whose key is set are listed"


def test_chat_answers_with_the_real_model(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model=CHAT_MODEL, messages=FRANCE, max_tokens=24)
    assert answer.model == CHAT_MODEL
    assert "Paris" in (answer.choices[0].message.content or "")
    assert answer.usage is not None and answer.usage.prompt_tokens > 5
    assert answer.choices[0].finish_reason in {"stop", "length"}


def test_streaming_delivers_tokens_as_they_are_generated(client: openai.OpenAI) -> None:
    started = time.monotonic()
    arrivals: list[float] = []
    text: list[str] = []
    usage = None
    stream = client.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "Tell me about the sea."}],
        max_tokens=40, stream=True, stream_options={"include_usage": True},
        extra_body={"ignore_eos": True, "min_tokens": 40, "stop": []})
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - started)
            text.append(chunk.choices[0].delta.content)
    assert usage is not None and usage.completion_tokens == 40
    assert len(arrivals) >= 10, "the answer should arrive in many pieces"
    # Incremental, not buffered: the first piece comes well before the last one.
    assert arrivals[0] < 0.5 * arrivals[-1]


def test_embeddings(client: openai.OpenAI) -> None:
    result = client.embeddings.create(
        model=EMBEDDING_MODEL,
        input=["A cat sits on the mat.", "A kitten is sitting on a rug.", "Quarterly tax filing deadline"])
    vectors = [d.embedding for d in result.data]
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-3) for v in vectors)

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2])
    assert result.usage.prompt_tokens > 0


def test_a_model_still_deploying_answers_503(stack: Stack) -> None:
    if stack.early_reply is None:
        pytest.skip("the stack was already running (STELLWERK_E2E_URL)")
    reply = stack.early_reply
    assert reply.status_code == 503, reply.text
    assert reply.headers["retry-after"]
    assert reply.json()["error"]["code"] == "engine_unavailable"


def test_unknown_model_is_404_naming_the_available_models(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="no-such-model", messages=FRANCE)
    assert CHAT_MODEL in err.value.message
    assert err.value.code == "model_not_found"


def test_malformed_json_is_400(stack: Stack) -> None:
    reply = httpx.post(stack.api + "/chat/completions", content=b"{not json",
                       headers={"content-type": "application/json"})
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"


def test_schema_errors_are_400_naming_the_field(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=CHAT_MODEL, messages=FRANCE, temperature=7)
    assert "temperature" in err.value.message


def test_prompt_longer_than_the_context_is_400_with_the_limits(client: openai.OpenAI) -> None:
    long_prompt = "word " * 3000
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": long_prompt}],
                                       max_tokens=16)
    assert err.value.code == "context_length_exceeded"
    assert "2048" in err.value.message


async def test_sixteen_concurrent_requests_are_all_answered(aclient: openai.AsyncOpenAI) -> None:
    async def ask(i: int) -> str:
        answer = await aclient.chat.completions.create(
            model=CHAT_MODEL, max_tokens=12,
            messages=[{"role": "user", "content": f"Request {i}: name a fruit."}])
        return answer.choices[0].message.content or ""

    answers = await asyncio.gather(*(ask(i) for i in range(16)))
    assert len(answers) == 16


def _queue(stack: Stack) -> dict[str, Any]:
    queue: dict[str, Any] = httpx.get(stack.base_url + "/status", timeout=30).json()["engines"][CHAT_MODEL]
    return queue


def _running(stack: Stack) -> int:
    return int(_queue(stack).get("running", -1))  # -1: the sample could not read the engine


def _wait_for_running(stack: Stack, expected: int, timeout_s: float, message: str) -> None:
    """/status shows the telemetry sampled every 2 s: poll until it shows `expected`."""
    deadline = time.monotonic() + timeout_s
    while _running(stack) != expected:
        assert time.monotonic() < deadline, message
        time.sleep(0.5)


def test_client_disconnect_mid_stream_stops_the_engine(stack: Stack) -> None:
    body = {"model": CHAT_MODEL, "stream": True, "max_tokens": 1000,
            "messages": [{"role": "user", "content": "Write a very long story."}],
            "ignore_eos": True, "min_tokens": 1000, "stop": []}
    with httpx.Client(timeout=120) as http, http.stream("POST", stack.api + "/chat/completions",
                                                        json=body) as reply:
        assert reply.status_code == 200
        lines = reply.iter_lines()
        pieces = [line for line in (next(lines) for _ in range(12)) if line.startswith("data: ")]
        assert len(pieces) >= 3
        _wait_for_running(stack, 1, 10, "the engine's queue never showed the running request")
        queue = _queue(stack)
        assert queue["waiting"] == 0 and queue["replicas"] == 1
        assert 0 < queue["kv_cache_usage"] <= 1, queue
    # 1000 tokens take minutes on a CPU: if the engine kept generating, this would stay 1.
    _wait_for_running(stack, 0, 15, "the engine kept generating after the client left")


def test_metrics_count_requests_by_model(stack: Stack, client: openai.OpenAI) -> None:
    client.chat.completions.create(model=CHAT_MODEL, messages=FRANCE, max_tokens=8)
    text = httpx.get(stack.base_url + "/metrics").text
    assert f'stellwerk_requests_total{{endpoint="chat",model="{CHAT_MODEL}",status="200"}}' in text
    assert "stellwerk_time_to_first_token_seconds_bucket" in text
    assert f'stellwerk_tokens_total{{kind="completion",model="{CHAT_MODEL}"}}' in text


def test_status_command_shows_deployments(stack: Stack) -> None:
    run = subprocess.run([sys.executable, "-m", "stellwerk_cli.main", "status", "--url", stack.base_url,
                          "--json"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    status = json.loads(run.stdout)
    assert status["ready"] is True
    gemma = status["deployments"]["llm-gemma-3-270m"]
    assert gemma["status"] == "RUNNING" and gemma["replicas"] == {"RUNNING": 1}


def test_anthropic_sdk_is_answered_by_the_local_model(stack: Stack) -> None:
    with anthropic.Anthropic(base_url=stack.base_url, api_key="unused", max_retries=0) as client:
        message = client.messages.create(model=CHAT_MODEL, max_tokens=24, messages=FRANCE)
        assert message.model == CHAT_MODEL
        assert "Paris" in message.content[0].text
        with client.messages.stream(model=CHAT_MODEL, max_tokens=24, messages=FRANCE) as stream:
            streamed = "".join(stream.text_stream)
        assert "Paris" in streamed


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@pytest.mark.parametrize("model", list(FAKE_REMOTES))
def test_tool_calling_conversation_with_each_remote_provider(client: openai.OpenAI, model: str) -> None:
    messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Paris?"}]
    raw = client.chat.completions.with_raw_response.create(model=model, messages=messages,
                                                           tools=[WEATHER_TOOL])
    first = raw.parse()
    assert raw.headers["x-stellwerk-model"] == model
    assert float(raw.headers["x-stellwerk-cost"]) > 0
    call = first.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    second = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "The tool said: sunny"
