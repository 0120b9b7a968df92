"""Through the router, with the official `openai` SDK as client, to each remote provider's fake.

Each provider's adapter talks real HTTP to a local server speaking that provider's wire protocol
(tests/fake_providers); the router in front is the real app.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import openai
import pytest

from models.availability import Availability
from models.catalogue import ModelEntry, load_catalogue
from router.app import create_app
from router.registry import ModelRegistry
from router.routing.build import default_routing
from serving.remote.registry import ProviderClients, create_remote_engine
from tests.fake_providers.runner import serve_app
from tests.fakes import DEFAULT_QUALITY, ScriptedFeatures, TableQuality

# catalogue id -> fake server module (the catalogue's own entries, pointed at the fakes)
PROVIDERS = {
    "openai/gpt-4o-mini": ("openai_server", "/v1"),
    "anthropic/claude-sonnet-4": ("anthropic_server", ""),
    "gemini/gemini-2.5-flash": ("gemini_server", ""),
}
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def _pointed_at(entry: ModelEntry, base_url: str, model: str) -> ModelEntry:
    assert entry.remote is not None
    remote = entry.remote.model_copy(update={"base_url": base_url, "model": model, "read_timeout_s": 1.0})
    return entry.model_copy(update={"remote": remote})


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, str]]:
    with ExitStack() as stack:
        urls = {}
        for model_id, (module, path) in PROVIDERS.items():
            fake = importlib.import_module(f"tests.fake_providers.{module}")
            app = fake.create_app(expected_key="test-key")
            urls[model_id] = stack.enter_context(serve_app(app)) + path
        yield urls


def router_url(fakes: dict[str, str], upstream_model: str) -> Iterator[str]:
    """A router whose three remote models all call `upstream_model` at their fakes."""
    catalogue = load_catalogue()
    clients = ProviderClients()
    environ = {"OPENAI_API_KEY": "test-key", "ANTHROPIC_API_KEY": "test-key", "GEMINI_API_KEY": "test-key"}
    entries = {m: _pointed_at(catalogue.get(m), url, upstream_model) for m, url in fakes.items()}  # type: ignore[arg-type]
    engines = {m: create_remote_engine(e, clients, environ) for m, e in entries.items()}
    availabilities = [Availability(entries.get(e.id, e), e.id in entries, None if e.id in entries else "off")
                      for e in catalogue.models]
    registry = ModelRegistry(availabilities, engines, {})
    routing = default_routing(registry, features=ScriptedFeatures(), quality=TableQuality(DEFAULT_QUALITY))
    app = create_app(registry, on_shutdown=clients.aclose, routing=routing)
    with serve_app(app) as url:
        yield url + "/v1"


@pytest.fixture(scope="module")
def tool_router(fakes: dict[str, str]) -> Iterator[str]:
    yield from router_url(fakes, "tool-model")


@pytest.fixture(params=list(PROVIDERS))
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_tool_calling_conversation_through_the_router(tool_router: str, model: str) -> None:
    with openai.OpenAI(base_url=tool_router, api_key="unused", max_retries=0) as client:
        messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Paris?"}]
        first = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])  # type: ignore[arg-type,list-item]
        call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
        assert first.choices[0].finish_reason == "tool_calls"
        assert call.function.name == "get_weather"  # type: ignore[union-attr]
        assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
        messages += [first.choices[0].message.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]
        second = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])  # type: ignore[arg-type,list-item]
        assert second.choices[0].message.content == "The tool said: sunny, 21 C"
        assert second.model == model


def test_streamed_tool_call_deltas_through_the_router(tool_router: str, model: str) -> None:
    with openai.OpenAI(base_url=tool_router, api_key="unused", max_retries=0) as client:
        stream = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL],  # type: ignore[list-item]
            stream=True, stream_options={"include_usage": True})
        arguments, names, usage = [], [], None
        for chunk in stream:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                for d in choice.delta.tool_calls or []:
                    names += [d.function.name] if d.function and d.function.name else []
                    arguments.append(d.function.arguments or "" if d.function else "")
    assert names == ["get_weather"]
    assert json.loads("".join(arguments)) == {"city": "Paris"}
    assert usage is not None and usage.prompt_tokens == 11


def test_cost_is_reported_from_catalogue_prices(fakes: dict[str, str]) -> None:
    for url in router_url(fakes, "fake-model"):
        reply = httpx.post(url + "/chat/completions", json={
            "model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
        assert reply.status_code == 200, reply.text
        # 11 prompt tokens at 0.15/M + 7 completion tokens at 0.60/M
        assert float(reply.headers["x-stellwerk-cost"]) == pytest.approx((11 * 0.15 + 7 * 0.60) / 1e6)
        assert reply.json()["stellwerk"]["currency"] == "USD"
        metrics = httpx.get(url.removesuffix("/v1") + "/metrics").text
        assert 'stellwerk_cost_total{currency="USD",model="openai/gpt-4o-mini",provider="openai"}' in metrics


@pytest.mark.parametrize(("upstream", "status"), [
    ("slow-first-byte", 504), ("invalid-json", 502), ("rate-limited", 429), ("bad-key", 502),
    ("unknown-model", 404), ("server-error", 502),
])
def test_bad_upstream_gives_a_clear_openai_error(fakes: dict[str, str], model: str, upstream: str,
                                                 status: int) -> None:
    for url in router_url(fakes, upstream):
        reply = httpx.post(url + "/chat/completions", timeout=30, json={
            "model": model, "messages": [{"role": "user", "content": "hi"}]})
        assert reply.status_code == status, reply.text
        error = reply.json()["error"]
        assert error["message"] and error["type"]
        assert "test-key" not in reply.text
        if status == 429:
            assert reply.headers["retry-after"] == "7"


def test_reset_mid_stream_becomes_one_sse_error_event_then_done(fakes: dict[str, str], model: str) -> None:
    for url in router_url(fakes, "reset-mid-stream"):
        with httpx.stream("POST", url + "/chat/completions", timeout=30, json={
                "model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}) as reply:
            assert reply.status_code == 200
            lines = [line for line in reply.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]) for line in lines[:-1]]
    assert any(e.get("choices") and e["choices"][0]["delta"].get("content") for e in events)
    assert "error" in events[-1] and events[-1]["error"]["type"] == "upstream_error"


def test_a_429_storm_is_answered_429_every_time_and_nothing_hangs(fakes: dict[str, str]) -> None:
    async def storm(url: str) -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            replies = await asyncio.gather(*(client.post(url + "/chat/completions", json={
                "model": "anthropic/claude-sonnet-4", "messages": [{"role": "user", "content": "hi"}]})
                for _ in range(40)))
        return [r.status_code for r in replies]

    for url in router_url(fakes, "rate-limited"):
        assert asyncio.run(asyncio.wait_for(storm(url), timeout=60)) == [429] * 40
