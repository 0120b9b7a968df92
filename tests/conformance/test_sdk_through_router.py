"""The official SDKs, unchanged, against the real router in front of each provider's fake.

Covers what the current providers added: Gemini 3 thought signatures carried across turns in the OpenAI
and Anthropic shapes, prompt-cache and reasoning token counts in usage and in the cost, thinking on
`/v1/messages`, and Anthropic API version 2026-10-21's refusal of sampling parameters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conformance.harness import Route, fake_apps, served_router

# catalogue id -> (fake module, path under the fake's root, the fake's scripted model)
ROUTES: dict[str, Route] = {
    "gemini/gemini-3.5-flash": ("gemini_server", "", "gemini-3-tool-model"),
    "gemini/gemini-3.8-flash": ("gemini_server", "", "cached-model"),
    "openai/gpt-6.2-sol": ("openai_server", "/v1", "cached-model"),
    "anthropic/claude-sonnet-5-5": ("anthropic_server", "", "cached-model"),
}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
ANTHROPIC_WEATHER = {"name": "get_weather", "description": "Weather in a city",
                     "input_schema": WEATHER["function"]["parameters"]}  # type: ignore[index]


@pytest.fixture(scope="module")
def apps() -> dict[str, Any]:
    return fake_apps(ROUTES)


@pytest.fixture(scope="module")
def router(apps: dict[str, Any]) -> Iterator[str]:
    with served_router(ROUTES, apps) as url:
        yield url


@pytest.fixture
def oai(router: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=router + "/v1", api_key="unused", max_retries=0) as client:
        yield client


@pytest.fixture
def claude(router: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=router, api_key="unused", max_retries=0) as client:
        yield client


# --- Gemini 3 thought signatures ------------------------------------------------------------------


def test_gemini_3_tool_use_over_two_turns_with_the_openai_sdk(oai: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = oai.chat.completions.create(model="gemini/gemini-3.5-flash", messages=messages, tools=[WEATHER])  # type: ignore[list-item]
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (call.model_extra or {})["extra_content"]["google"]["thought_signature"]
    tool_result = {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}
    # The SDK's message object, as users append it, carries the signature back unchanged.
    second = oai.chat.completions.create(model="gemini/gemini-3.5-flash", tools=[WEATHER],  # type: ignore[list-item]
                                         messages=[*messages, first.choices[0].message, tool_result])  # type: ignore[list-item]
    assert second.choices[0].message.content == "The tool said: sunny, 21 C"

    # Without the signature, Gemini 3 refuses the turn (as the real API does): a clear 400.
    stripped = first.choices[0].message.model_dump(exclude_none=True)
    stripped["tool_calls"][0].pop("extra_content")
    with pytest.raises(openai.BadRequestError, match="thought_signature"):
        oai.chat.completions.create(model="gemini/gemini-3.5-flash", tools=[WEATHER],  # type: ignore[list-item]
                                    messages=[*messages, stripped, tool_result])  # type: ignore[list-item]


def test_streamed_gemini_3_tool_call_carries_the_signature(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(model="gemini/gemini-3.5-flash", tools=[WEATHER], stream=True,  # type: ignore[list-item]
                                         messages=[{"role": "user", "content": "Weather in Paris?"}])
    extras = [(d.model_extra or {}).get("extra_content") for chunk in stream
              for choice in chunk.choices  # type: ignore[union-attr]
              for d in choice.delta.tool_calls or []]
    assert any(e and e["google"]["thought_signature"] for e in extras)


def test_gemini_3_tool_use_over_two_turns_with_the_anthropic_sdk(claude: anthropic.Anthropic) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = claude.messages.create(model="gemini/gemini-3.5-flash", max_tokens=100, messages=messages,
                                   tools=[ANTHROPIC_WEATHER])  # type: ignore[list-item]
    use = next(b for b in first.content if b.type == "tool_use")
    assert (use.model_extra or {})["extra_content"]["google"]["thought_signature"]
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                               "content": "sunny, 21 C"}]}]
    second = claude.messages.create(model="gemini/gemini-3.5-flash", max_tokens=100, messages=messages,
                                    tools=[ANTHROPIC_WEATHER])  # type: ignore[list-item]
    assert second.content[0].type == "text" and second.content[0].text == "The tool said: sunny, 21 C"


# --- prompt caching and reasoning tokens ----------------------------------------------------------


def test_openai_cached_and_reasoning_tokens_are_reported_and_priced(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(model="openai/gpt-6.2-sol",
                                        messages=[{"role": "user", "content": "hi"}])
    usage = reply.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 8
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 3
    # 3 uncached x $2 + 8 cached x $0.10 + 7 output (reasoning included) x $10, per million
    cost = (reply.model_extra or {})["stellwerk"]["cost"]
    assert cost == pytest.approx((3 * 2.0 + 8 * 0.10 + 7 * 10.0) / 1e6)


def test_gemini_cached_content_tokens_reach_the_openai_usage(router: str) -> None:
    reply = httpx.post(router + "/v1/chat/completions", json={
        "model": "gemini/gemini-3.8-flash", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
    usage = reply.json()["usage"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 8}
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 3}
    assert float(reply.headers["x-stellwerk-cost"]) == pytest.approx((3 * 0.75 + 8 * 0.075 + 7 * 3.75) / 1e6)


def test_anthropic_cache_usage_and_thinking_on_v1_messages(claude: anthropic.Anthropic) -> None:
    reply = claude.messages.create(model="anthropic/claude-sonnet-5-5", max_tokens=4000,
                                   thinking={"type": "enabled", "budget_tokens": 2048},
                                   messages=[{"role": "user", "content": [{
                                       "type": "text", "text": "hi",
                                       "cache_control": {"type": "ephemeral"}}]}])
    assert [b.type for b in reply.content] == ["thinking", "text"]
    assert reply.content[0].thinking == "Let me think."  # type: ignore[union-attr]
    assert (reply.usage.input_tokens, reply.usage.cache_read_input_tokens) == (3, 8)
    assert reply.usage.output_tokens == 7


def test_thinking_streams_as_anthropic_thinking_deltas(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(model="anthropic/claude-sonnet-5-5", max_tokens=4000,
                                thinking={"type": "enabled", "budget_tokens": 2048},
                                messages=[{"role": "user", "content": "hi"}]) as stream:
        kinds = [e.delta.type for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()
    assert kinds[0] == "thinking_delta" and "text_delta" in kinds
    assert final.content[0].type == "thinking" and final.content[1].type == "text"


def test_thinking_streams_as_reasoning_content_in_openai_chunks(router: str) -> None:
    with httpx.stream("POST", router + "/v1/chat/completions", timeout=30, json={
            "model": "anthropic/claude-sonnet-5-5", "stream": True, "max_tokens": 4000,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "messages": [{"role": "user", "content": "hi"}]}) as reply:
        chunks = [json.loads(line[6:]) for line in reply.iter_lines()
                  if line.startswith("data: {")]
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks if c["choices"])
    assert reasoning == "Let me think."


def test_cache_breakpoints_reach_anthropic_from_v1_messages(claude: anthropic.Anthropic,
                                                            apps: dict[str, Any]) -> None:
    mark: Any = {"type": "ephemeral", "ttl": "1h"}
    claude.messages.create(  # type: ignore[call-overload]
        model="anthropic/claude-sonnet-5-5", max_tokens=100, cache_control={"type": "ephemeral"},
        system=[{"type": "text", "text": "A long, stable system prompt.", "cache_control": mark}],
        tools=[{**ANTHROPIC_WEATHER, "cache_control": mark}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": mark}]}])
    sent = apps["anthropic_server"].state.requests[-1]
    assert sent["system"] == [{"type": "text", "text": "A long, stable system prompt.",
                               "cache_control": mark}]
    assert sent["tools"][0]["cache_control"] == mark
    assert sent["messages"][0]["content"][0]["cache_control"] == mark
    assert sent["cache_control"] == {"type": "ephemeral"}


def test_cache_breakpoints_in_chat_parts_reach_anthropic_and_not_openai(oai: openai.OpenAI,
                                                                        apps: dict[str, Any]) -> None:
    mark: Any = {"type": "ephemeral"}
    messages: Any = [
        {"role": "system", "content": [{"type": "text", "text": "Be brief.", "cache_control": mark}]},
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": mark}]}]
    oai.chat.completions.create(model="anthropic/claude-sonnet-5-5", messages=messages)
    sent = apps["anthropic_server"].state.requests[-1]
    assert sent["system"][0]["cache_control"] == mark
    assert sent["messages"][0]["content"][0]["cache_control"] == mark
    # OpenAI caches prompt prefixes by itself and refuses unknown keys in parts: the hint is dropped.
    reply = oai.chat.completions.create(model="openai/gpt-6.2-sol", messages=messages)
    assert reply.choices[0].message.content == "You said: hi"
    assert "cache_control" not in json.dumps(apps["openai_server"].state.requests[-1])


def test_too_many_cache_breakpoints_are_anthropics_400(claude: anthropic.Anthropic) -> None:
    mark: Any = {"type": "ephemeral"}
    with pytest.raises(anthropic.BadRequestError, match="maximum of 4"):
        claude.messages.create(model="anthropic/claude-sonnet-5-5", max_tokens=100, messages=[
            {"role": "user", "content": [{"type": "text", "text": f"part {i}", "cache_control": mark}
                                         for i in range(5)]}])


# --- parameter rules ---------------------------------------------------------------------------------


def test_thinking_with_a_too_small_budget_is_a_400_on_v1_messages(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="budget_tokens"):
        claude.messages.create(model="anthropic/claude-sonnet-5-5", max_tokens=4000,
                               thinking={"type": "enabled", "budget_tokens": 100},
                               messages=[{"role": "user", "content": "hi"}])


def test_thinking_budget_to_openai_is_refused_not_dropped(router: str) -> None:
    reply = httpx.post(router + "/v1/chat/completions", timeout=30, json={
        "model": "openai/gpt-6.2-sol", "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [{"role": "user", "content": "hi"}]})
    assert reply.status_code == 400 and "thinking" in reply.json()["error"]["message"]


def test_temperature_to_claude_is_a_clear_400(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="2026-10-21"):
        oai.chat.completions.create(model="anthropic/claude-sonnet-5-5", temperature=0.2,
                                    messages=[{"role": "user", "content": "hi"}])


@pytest.fixture(scope="module")
def thinking_router(apps: dict[str, Any]) -> Iterator[str]:
    with served_router({"anthropic/claude-opus-5-5": ("anthropic_server", "", "thinking-tool-model")},
                       {"anthropic_server": apps["anthropic_server"]}) as url:
        yield url


def test_claude_thinking_with_tools_over_two_turns_through_chat(thinking_router: str,
                                                                apps: dict[str, Any]) -> None:
    """Claude's signed thinking rides on the first tool call and leads the assistant turn it comes back in."""
    with openai.OpenAI(base_url=thinking_router + "/v1", api_key="unused", max_retries=0) as client:
        ask: Any = {"model": "anthropic/claude-opus-5-5", "tools": [WEATHER], "max_tokens": 4000,
                    "extra_body": {"thinking": {"type": "enabled", "budget_tokens": 2048}}}
        messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
        first = client.chat.completions.create(messages=messages, **ask)
        message = first.choices[0].message
        assert (message.model_extra or {})["reasoning_content"] == "I should call the tool."
        call: Any = message.tool_calls[0]
        result: Any = {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}
        second = client.chat.completions.create(messages=[*messages, message, result], **ask)
        assert second.choices[0].message.content == "The tool said: sunny, 21 C"
        sent = apps["anthropic_server"].state.requests[-1]["messages"][1]["content"]
        assert [b["type"] for b in sent] == ["thinking", "tool_use"]
        stripped = message.model_dump(exclude_none=True)
        stripped["tool_calls"][0].pop("extra_content")
        with pytest.raises(openai.BadRequestError, match="must start with a thinking block"):
            client.chat.completions.create(messages=[*messages, stripped, result], **ask)


def test_claude_thinking_with_tools_over_two_turns_through_v1_messages(thinking_router: str,
                                                                       apps: dict[str, Any]) -> None:
    with anthropic.Anthropic(base_url=thinking_router, api_key="unused", max_retries=0) as client:
        ask: Any = {"model": "anthropic/claude-opus-5-5", "max_tokens": 4000, "tools": [ANTHROPIC_WEATHER],
                    "thinking": {"type": "enabled", "budget_tokens": 2048}}
        messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
        first = client.messages.create(messages=messages, **ask)
        assert [b.type for b in first.content] == ["thinking", "tool_use"]
        use: Any = first.content[1]
        messages += [{"role": "assistant", "content": first.content},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                                   "content": "sunny, 21 C"}]}]
        second = client.messages.create(messages=messages, **ask)
    assert second.content[0].type == "text" and second.content[0].text == "The tool said: sunny, 21 C"
    sent = apps["anthropic_server"].state.requests[-1]["messages"][1]["content"]
    assert sent[0]["type"] == "thinking" and sent[0]["thinking"] == "I should call the tool."
