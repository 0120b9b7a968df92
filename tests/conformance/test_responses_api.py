"""`POST /v1/responses` driven by the official `openai` SDK, unchanged, answered by each provider's fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from router.store import Database
from router.store.responses import ResponseStore
from tests.conformance.harness import Route, fake_apps, served_router

ROUTES: dict[str, Route] = {
    "openai/gpt-6.2-sol": ("openai_server", "/v1", "cached-model"),
    "anthropic/claude-sonnet-5-5": ("anthropic_server", "", "cached-model"),
    "anthropic/claude-haiku-5-5": ("anthropic_server", "", "max-tokens"),
    "gemini/gemini-3.5-flash": ("gemini_server", "", "gemini-3-tool-model"),
    "anthropic/claude-opus-5-5": ("anthropic_server", "", "overloaded-mid-stream"),
}
WEATHER: Any = {"type": "function", "name": "get_weather", "description": "Weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}


@pytest.fixture(scope="module")
def router() -> Iterator[str]:
    with served_router(ROUTES, fake_apps(ROUTES)) as url:
        yield url


@pytest.fixture
def client(router: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=router + "/v1", api_key="unused", max_retries=0) as c:
        yield c


def test_create_answers_with_output_text_and_usage(client: openai.OpenAI) -> None:
    response = client.responses.create(model="openai/gpt-6.2-sol", input="hello there",
                                       instructions="Be brief.")
    assert response.status == "completed" and response.object == "response"
    assert response.output_text == "You said: hello there"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.input_tokens_details.cached_tokens) == (11, 8)
    assert (response.usage.output_tokens, response.usage.output_tokens_details.reasoning_tokens) == (7, 3)
    assert response.id.startswith("resp_") and response.model == "openai/gpt-6.2-sol"


def test_stream_helper_gets_the_official_events_and_the_final_response(client: openai.OpenAI) -> None:
    with client.responses.stream(model="openai/gpt-6.2-sol", input="hello there") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    for kind in ("response.output_item.added", "response.content_part.added", "response.output_text.delta",
                 "response.output_text.done", "response.content_part.done", "response.output_item.done"):
        assert kind in kinds, kind
    assert final.output_text == "You said: hello there"
    assert final.usage is not None and final.usage.input_tokens_details.cached_tokens == 8


def test_create_with_stream_true_yields_events_with_sequence_numbers(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="openai/gpt-6.2-sol", input="hi", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "You said: hi"


def test_function_calling_over_two_turns_keeps_the_gemini_signature(client: openai.OpenAI) -> None:
    first = client.responses.create(model="gemini/gemini-3.5-flash", input="Weather in Paris?",
                                    tools=[WEATHER])
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather" and call.arguments == '{"city": "Paris"}'
    assert (call.model_extra or {})["extra_content"]["google"]["thought_signature"]
    second = client.responses.create(
        model="gemini/gemini-3.5-flash", tools=[WEATHER],
        input=[{"role": "user", "content": "Weather in Paris?"}, *first.output,  # type: ignore[list-item]
               {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"}])
    assert second.output_text == "The tool said: sunny, 21 C"


def test_streamed_function_call(client: openai.OpenAI) -> None:
    with client.responses.stream(model="gemini/gemini-3.5-flash", input="Weather?",
                                 tools=[WEATHER]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    assert [item.type for item in final.output] == ["function_call"]


def test_thinking_comes_back_as_a_reasoning_item(client: openai.OpenAI) -> None:
    response = client.responses.create(model="anthropic/claude-sonnet-5-5", input="hi",
                                       reasoning={"effort": "low"})
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[0].summary[0].text == "Let me think."  # type: ignore[union-attr]
    assert response.output_text == "You said: hi"
    with client.responses.stream(model="anthropic/claude-sonnet-5-5", input="hi") as stream:
        kinds = [event.type for event in stream]
    assert "response.reasoning_summary_text.delta" in kinds


def test_output_limit_makes_the_response_incomplete(client: openai.OpenAI) -> None:
    response = client.responses.create(model="anthropic/claude-haiku-5-5", input="hi", max_output_tokens=5)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def test_failure_mid_stream_is_an_error_event_then_response_failed(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="anthropic/claude-opus-5-5", input="hi", stream=True))
    assert [e.type for e in events][-2:] == ["error", "response.failed"]


@pytest.mark.parametrize(("extra", "param"), [
    ({"previous_response_id": "resp_123"}, "previous_response_id"),
    ({"tools": [{"type": "web_search"}]}, "tools"),
    ({"conversation": "conv_1"}, "conversation"),
    ({"input": [{"type": "file_search_call", "id": "x"}]}, "input[0].type"),
])
def test_what_cannot_be_honoured_is_a_400(router: str, extra: dict[str, Any], param: str) -> None:
    reply = httpx.post(router + "/v1/responses", json={"model": "openai/gpt-6.2-sol", "input": "hi", **extra},
                       timeout=30)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == param


def test_previous_response_id_is_a_bad_request_for_the_sdk(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="response store"):
        client.responses.create(model="openai/gpt-6.2-sol", input="hi", previous_response_id="resp_1")


# --- previous_response_id with a response store ---------------------------------------------------


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """A router with a response store in its database, and the fake apps behind it."""
    db = Database.open(None, default_path=tmp_path_factory.mktemp("store") / "stellwerk.db")
    apps = fake_apps(ROUTES)
    try:
        with served_router(ROUTES, apps, response_store=ResponseStore(db)) as url:
            yield url, apps
    finally:
        db.close()


@pytest.mark.parametrize("stream", [False, True])
def test_previous_response_id_continues_the_stored_conversation(stored: tuple[str, dict[str, Any]],
                                                                stream: bool) -> None:
    url, apps = stored
    with openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0) as client:
        first: Any
        if stream:
            with client.responses.stream(model="openai/gpt-6.2-sol", input="My name is Ada.") as s:
                first = s.get_final_response()
        else:
            first = client.responses.create(model="openai/gpt-6.2-sol", input="My name is Ada.",
                                            instructions="Be brief.")
        assert first.to_dict()["store"] is True
        second = client.responses.create(model="openai/gpt-6.2-sol", input="What is my name?",
                                         previous_response_id=first.id)
    assert second.output_text == "You said: What is my name?"
    assert second.previous_response_id == first.id
    sent = apps["openai_server"].state.requests[-1]["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("user", "My name is Ada."), ("assistant", "You said: My name is Ada."),
        ("user", "What is my name?")]


def test_unstored_or_unknown_responses_cannot_be_continued(stored: tuple[str, dict[str, Any]]) -> None:
    url, _ = stored
    with openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0) as client:
        unstored = client.responses.create(model="openai/gpt-6.2-sol", input="hi", store=False)
        assert unstored.to_dict()["store"] is False
        for previous in (unstored.id, "resp_nosuchthing"):
            with pytest.raises(openai.BadRequestError, match="not found"):
                client.responses.create(model="openai/gpt-6.2-sol", input="again",
                                        previous_response_id=previous)


async def test_a_tenant_never_reads_another_tenants_stored_response(tmp_path: Any) -> None:
    db = Database.open(None, default_path=tmp_path / "s.db")
    try:
        store = ResponseStore(db)
        await store.save("acme", "resp_1", "m", [{"role": "user", "content": "secret"}])
        assert await store.load("acme", "resp_1") == [{"role": "user", "content": "secret"}]
        assert await store.load("globex", "resp_1") is None
    finally:
        db.close()
