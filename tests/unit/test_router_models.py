"""GET /v1/models, /health, /ready, /status and /metrics through the real ASGI app, with fake engines."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import (
    FakeApp,
    FakeChatEngine,
    FakeEmbeddingEngine,
    asgi_client,
    build_fake_app,
    sample,
    scrape,
)

pytestmark = pytest.mark.asyncio

GEMMA = "gemma-3-270m"
MINILM = "all-minilm-l6-v2"
LLAMA = "llama-3.1-8b-instruct"
GPU_REASON = "needs a GPU; none was found on this machine"


def default_fake_app(**chat_kwargs: Any) -> FakeApp:
    return build_fake_app([FakeChatEngine(GEMMA, **chat_kwargs)], [FakeEmbeddingEngine(MINILM)],
                       reasons={LLAMA: GPU_REASON})


# --- /v1/models ------------------------------------------------------------------------------------


async def test_models_lists_auto_and_the_servable_models() -> None:
    async with asgi_client(default_fake_app().app) as client:
        response = await client.get("/v1/models")

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["auto", GEMMA, MINILM]
    assert all(m["object"] == "model" and isinstance(m["created"], int) for m in body["data"])
    cards = {m["id"]: m for m in body["data"]}
    gemma = cards[GEMMA]["stellwerk"]
    assert gemma["available"] is True and gemma["reason"] is None
    assert gemma["kind"] == "local" and gemma["task"] == "chat"
    assert gemma["context_length"] == 2048
    assert "local/gemma-3-270m" in gemma["aliases"]
    assert cards[MINILM]["stellwerk"]["task"] == "embedding"


async def test_models_all_adds_unavailable_entries_with_the_reason() -> None:
    fake = default_fake_app()
    async with asgi_client(fake.app) as client:
        response = await client.get("/v1/models", params={"all": "true"})

    cards = {m["id"]: m for m in response.json()["data"]}
    assert set(cards) == {"auto"} | {m.id for m in fake.catalogue.models}
    llama = cards[LLAMA]["stellwerk"]
    assert llama["available"] is False
    assert llama["reason"] == GPU_REASON
    remote = cards["openai/gpt-4o-mini"]
    assert remote["owned_by"] == "openai"
    assert remote["stellwerk"]["available"] is False and remote["stellwerk"]["reason"]
    assert remote["stellwerk"]["pricing"]["input_per_mtok"] > 0
    assert remote["stellwerk"]["residency"]["leaves_premises"] is True
    assert cards[GEMMA]["stellwerk"]["available"] is True


async def test_models_without_any_chat_engine_has_no_auto() -> None:
    fake = build_fake_app([], [FakeEmbeddingEngine(MINILM)])
    async with asgi_client(fake.app) as client:
        response = await client.get("/v1/models")

    assert [m["id"] for m in response.json()["data"]] == [MINILM]


# --- /health, /ready, /status ----------------------------------------------------------------------


async def test_health_answers_even_when_engines_are_down() -> None:
    fake = default_fake_app(unavailable="replica is starting")
    async with asgi_client(fake.app) as client:
        response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_is_200_when_every_engine_is_healthy() -> None:
    async with asgi_client(default_fake_app().app) as client:
        response = await client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "models": {GEMMA: "ok", MINILM: "ok"}}


async def test_ready_is_503_with_each_models_reason() -> None:
    reason = "the deployment for this model is DEPLOYING; retry shortly"
    async with asgi_client(default_fake_app(unavailable=reason).app) as client:
        response = await client.get("/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "models": {GEMMA: reason, MINILM: "ok"}}


async def test_ready_without_any_model_is_503() -> None:
    async with asgi_client(build_fake_app().app) as client:
        response = await client.get("/ready")

    assert response.status_code == 503
    assert response.json()["models"] == {}


async def test_status_reports_health_engine_load_and_the_providers_report() -> None:
    report = {"deployments": {"llm-gemma-3-270m": {"status": "RUNNING"}}}
    fake = build_fake_app([FakeChatEngine(GEMMA), FakeChatEngine("openai/gpt-4o-mini", unavailable="down")],
                        [FakeEmbeddingEngine(MINILM)], status_provider=lambda: report)
    await fake.telemetry.sample()
    async with asgi_client(fake.app) as client:
        response = await client.get("/status")

    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is False
    assert body["models"] == {GEMMA: "ok", "openai/gpt-4o-mini": "down", MINILM: "ok"}
    assert body["engines"] == {GEMMA: {"running": 0, "waiting": 0, "kv_cache_usage": None, "replicas": 1},
                               "openai/gpt-4o-mini": {"error": "down"}}
    assert body["deployments"] == report["deployments"]
    assert body["gpus"] == []


async def test_shutdown_hook_runs_when_the_app_stops() -> None:
    calls: list[str] = []
    fake = build_fake_app([FakeChatEngine()], on_shutdown=lambda: calls.append("stopped"))

    async with fake.app.router.lifespan_context(fake.app):
        assert calls == []
    assert calls == ["stopped"]


# --- /metrics --------------------------------------------------------------------------------------


async def test_metrics_count_requests_tokens_and_time_to_first_token_by_model() -> None:
    fake = default_fake_app()
    chat = {"model": GEMMA, "messages": [{"role": "user", "content": "one two three"}]}
    async with asgi_client(fake.app) as client:
        before = await scrape(client)
        await client.post("/v1/chat/completions", json=chat)
        middle = await scrape(client)
        await client.post("/v1/chat/completions", json={**chat, "stream": True})
        await client.post("/v1/chat/completions", json={**chat, "model": "no-such-model"})
        after = await scrape(client)

    chat_labels = {"endpoint": "chat", "model": GEMMA}
    for samples, expected in ((before, 0), (middle, 1), (after, 2)):
        assert sample(samples, "stellwerk_requests_total", **chat_labels, status="200") == expected
        assert sample(samples, "stellwerk_request_latency_seconds_count", **chat_labels) == expected
        assert sample(samples, "stellwerk_time_to_first_token_seconds_count", model=GEMMA) == expected
        assert sample(samples, "stellwerk_tokens_total", model=GEMMA, kind="completion") == 3 * expected
        assert sample(samples, "stellwerk_tokens_total", model=GEMMA, kind="prompt") == 3 * expected
    assert sample(after, "stellwerk_requests_in_flight", **chat_labels) == 0
    # Labels carry catalogue ids only, never a name the client typed.
    assert not [key for key in after if ("model", "no-such-model") in key[1]]


async def test_metrics_count_errors_by_type() -> None:
    fake = default_fake_app(unavailable="replica is starting")
    chat = {"model": GEMMA, "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(fake.app) as client:
        await client.post("/v1/chat/completions", json=chat)
        await client.post("/v1/chat/completions", json=chat)
        samples = await scrape(client)

    labels = {"endpoint": "chat", "model": GEMMA}
    assert sample(samples, "stellwerk_request_errors_total", **labels, type="service_unavailable") == 2
    assert sample(samples, "stellwerk_requests_total", **labels, status="503") == 2
    assert sample(samples, "stellwerk_time_to_first_token_seconds_count", model=GEMMA) == 0


async def test_metrics_is_prometheus_text() -> None:
    async with asgi_client(default_fake_app().app) as client:
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE stellwerk_requests_total counter" in response.text
