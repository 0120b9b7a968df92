"""The Ray engine (router → Serve handle → `StellwerkLLMServer` → vLLM) passes the adapter conformance
checks that apply to a local model, on the real stack, through the router with the official SDK: the
typed deltas of the replica (serving/replica_stream.py) must come out as the same OpenAI stream a
remote provider's adapter produces (tests/conformance/test_remote_adapters.py, same check names).

Checks the remote adapters get that do not apply here: provider keys, rate limits and Retry-After,
provider 5xx/overload, connection resets (a dead replica: test_replica_kill.py), content filters.
And one check they cannot get: the router's trace reaches the replica (one trace id, parent-linked).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import CHAT_MODEL, Stack

CITIES = ["Paris", "Bern", "Rome"]
# An enum, so that the schema-constrained arguments of a base model end (a free string may run on
# until max_tokens).
WEATHER_TOOL: Any = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": CITIES}},
                   "required": ["city"]}}}
NAMED_CHOICE: Any = {"type": "function", "function": {"name": "get_weather"}}
EXACT: dict[str, Any] = {"ignore_eos": True, "min_tokens": 8}  # vLLM-only: exactly max_tokens tokens


def _stream(client: openai.OpenAI, **kw: Any) -> list[Any]:
    return list(client.chat.completions.create(model=CHAT_MODEL, stream=True,
                                               stream_options={"include_usage": True}, **kw))


def test_echo_streams_text_usage_and_one_finish(client: openai.OpenAI) -> None:
    chunks = _stream(client, messages=[{"role": "user", "content": "Count: one, two,"}], max_tokens=8,
                     temperature=0, extra_body=EXACT)

    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(texts) >= 3, "the answer should stream in pieces"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 8
    assert chunks[-1].usage.prompt_tokens > 3
    assert chunks[0].choices[0].delta.role == "assistant"


def test_tool_call_is_streamed_as_openai_deltas_and_assembled_alike(client: openai.OpenAI) -> None:
    # A named tool choice (vLLM needs a tool-call parser configured for any tool_choice; the e2e
    # catalogue sets one). Greedy, so the streamed and the non-streamed call are the same text.
    # NOTE: the arguments of this 270M base model are not asserted to be JSON: they were not (e.g.
    # '["1'; vLLM's schema-constrained decoding did not hold them on this CPU build, an open question);
    # what is checked is that the call's pieces pass through the replica's typed deltas intact.
    body: dict[str, Any] = dict(messages=[{"role": "user", "content": "Weather in Paris?"}], max_tokens=24,
                                temperature=0, tools=[WEATHER_TOOL], tool_choice=NAMED_CHOICE)
    chunks = _stream(client, **body)
    reply = client.chat.completions.create(model=CHAT_MODEL, **body)

    deltas = [d for c in chunks if c.choices for d in (c.choices[0].delta.tool_calls or [])]
    assert deltas and deltas[0].id and deltas[0].function and deltas[0].function.name == "get_weather"
    assert {d.index for d in deltas} == {0}
    assert not any(c.choices[0].delta.content for c in chunks if c.choices)
    streamed = "".join(d.function.arguments or "" for d in deltas if d.function)
    [call] = reply.choices[0].message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    assert streamed and streamed == call.function.arguments
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_system_prompt_and_sampling_reach_the_engine(client: openai.OpenAI) -> None:
    body: dict[str, Any] = dict(messages=[{"role": "system", "content": "Answer with one word."},
                                          {"role": "user", "content": "Say a colour."}],
                                max_tokens=6, temperature=0, seed=7, extra_body=EXACT | {"min_tokens": 6})
    first = client.chat.completions.create(model=CHAT_MODEL, **body)
    second = client.chat.completions.create(model=CHAT_MODEL, **body)

    assert first.usage is not None and first.usage.completion_tokens == 6  # max_tokens and min_tokens
    assert first.choices[0].finish_reason == "length"
    assert first.choices[0].message.content == second.choices[0].message.content  # greedy
    bare = client.chat.completions.create(model=CHAT_MODEL, max_tokens=6, temperature=0,
                                          extra_body=EXACT | {"min_tokens": 6},
                                          messages=[{"role": "user", "content": "Say a colour."}])
    assert bare.usage is not None and first.usage.prompt_tokens > bare.usage.prompt_tokens  # the system text


def test_vllm_only_parameters_are_refused_or_passed_never_dropped(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:  # vLLM validates it and says so
        client.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "hi"}],
                                       max_tokens=4, extra_body={"top_k": -5})
    assert "top_k" in str(refused.value)


def test_prompt_over_the_context_is_a_clear_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=CHAT_MODEL, max_tokens=1500,
                                       messages=[{"role": "user", "content": "word " * 1000}])
    assert err.value.code == "context_length_exceeded"


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gemma-3-270m-nope",
                                       messages=[{"role": "user", "content": "hi"}])


def _spans(out: Path, trace_id: str, names: set[str], timeout_s: float = 30) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    found: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        lines = out.read_text().splitlines() if out.exists() else []
        found = {s["name"]: s for s in map(json.loads, lines) if s["trace_id"] == trace_id}
        if names <= set(found):
            return found
        time.sleep(0.2)
    raise AssertionError(f"spans {sorted(names - set(found))} of trace {trace_id} did not arrive; "
                         f"got {sorted(found)}")


def test_one_trace_runs_from_the_router_through_the_handle_into_the_replica(stack: Stack) -> None:
    if stack.spans is None:
        pytest.skip("an external stack: its spans are not collected here")
    trace_id = uuid.uuid4().hex
    caller_span = uuid.uuid4().hex[:16]
    reply = httpx.post(stack.api + "/chat/completions", timeout=120,
                       headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
                       json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}],
                             "max_tokens": 4, "stream": True})
    assert reply.status_code == 200 and reply.text.rstrip().endswith("data: [DONE]")

    replica = f"stellwerk.replica chat {CHAT_MODEL}"
    spans = _spans(stack.spans, trace_id,
                   {"POST /v1/chat/completions", f"chat {CHAT_MODEL}", replica, "llm_request"})
    root, attempt = spans["POST /v1/chat/completions"], spans[f"chat {CHAT_MODEL}"]
    assert root["parent_span_id"] == caller_span
    assert attempt["parent_span_id"] == root["span_id"]
    assert spans[replica]["parent_span_id"] == attempt["span_id"]  # through the Serve handle
    assert spans["llm_request"]["parent_span_id"] == spans[replica]["span_id"]  # vLLM's own span
    assert (root["service"], spans[replica]["service"]) == ("stellwerk-router", "stellwerk-replica")
    assert "hi" not in json.dumps(spans[replica])  # no prompt text
