"""POST /v1/embeddings through the real ASGI app, with a fake embedding engine."""

from __future__ import annotations

import asyncio
import base64
import struct
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from router.embeddings_service import EmbeddingsService
from router.metrics import RouterMetrics
from router.schemas import EmbeddingRequest
from serving.engine import EmbeddingResult
from serving.errors import EngineUnavailable
from tests.fakes import FakeChatEngine, FakeEmbeddingEngine, asgi_client, build_fake_app, sample, scrape

pytestmark = pytest.mark.asyncio

MINILM = "all-minilm-l6-v2"
EMBED = "/v1/embeddings"


async def post(body: dict[str, Any], engine: FakeEmbeddingEngine | None = None) -> httpx.Response:
    fake = build_fake_app([FakeChatEngine()], [engine or FakeEmbeddingEngine()])
    async with asgi_client(fake.app) as client:
        return await client.post(EMBED, json=body)


def assert_error(response: httpx.Response, status: int, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if param is not None:
        assert error["param"] == param
        assert param in error["message"]
    return dict(error)


async def test_float_embeddings_in_openai_shape() -> None:
    engine = FakeEmbeddingEngine()
    response = await post({"model": MINILM, "input": ["hello world", "good bye"]}, engine)

    assert response.status_code == 200
    assert response.headers["x-stellwerk-model"] == MINILM
    body = response.json()
    assert body["object"] == "list"
    assert body["model"] == MINILM
    assert body["data"] == [
        {"object": "embedding", "index": 0, "embedding": FakeEmbeddingEngine.vector("hello world")},
        {"object": "embedding", "index": 1, "embedding": FakeEmbeddingEngine.vector("good bye")},
    ]
    assert body["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    assert engine.calls == [["hello world", "good bye"]]


async def test_base64_embeddings_decode_to_the_same_float32_vectors() -> None:
    response = await post({"model": MINILM, "input": ["hello world", "good bye"],
                           "encoding_format": "base64"})

    assert response.status_code == 200
    for item, text in zip(response.json()["data"], ["hello world", "good bye"], strict=True):
        raw = base64.b64decode(item["embedding"])
        decoded = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        assert decoded == FakeEmbeddingEngine.vector(text)


async def test_a_single_string_input_gives_one_vector_and_aliases_work() -> None:
    response = await post({"model": "text-embedding-minilm", "input": "hello"})

    assert response.status_code == 200
    assert response.json()["model"] == MINILM
    assert [d["embedding"] for d in response.json()["data"]] == [FakeEmbeddingEngine.vector("hello")]


async def test_empty_input_list_is_400() -> None:
    engine = FakeEmbeddingEngine()
    response = await post({"model": MINILM, "input": []}, engine)

    assert_error(response, 400, param="input")
    assert engine.calls == []


async def test_dimensions_is_400() -> None:
    engine = FakeEmbeddingEngine()
    response = await post({"model": MINILM, "input": "hi", "dimensions": 64}, engine)

    assert_error(response, 400, param="dimensions")
    assert engine.calls == []


async def test_unknown_encoding_format_is_400() -> None:
    assert_error(await post({"model": MINILM, "input": "hi", "encoding_format": "int8"}), 400,
                 param="encoding_format")


async def test_chat_model_cannot_embed() -> None:
    error = assert_error(await post({"model": "gemma-3-270m", "input": "hi"}), 400, param="model")
    assert "chat model" in error["message"]


async def test_unknown_embedding_model_is_404() -> None:
    error = assert_error(await post({"model": "text-embedding-3-large", "input": "hi"}), 404, param="model")
    assert error["code"] == "model_not_found"
    assert MINILM in error["message"]


async def test_unavailable_embedding_engine_is_503_and_counted() -> None:
    fake = build_fake_app([], [FakeEmbeddingEngine(unavailable="replica is starting")])
    async with asgi_client(fake.app) as client:
        response = await client.post(EMBED, json={"model": MINILM, "input": "hi"})
        samples = await scrape(client)

    error = assert_error(response, 503)
    assert error["code"] == "engine_unavailable"
    assert "retry-after" in response.headers
    labels = {"endpoint": "embeddings", "model": MINILM}
    assert sample(samples, "stellwerk_requests_total", **labels, status="503") == 1
    assert sample(samples, "stellwerk_request_errors_total", **labels, type="service_unavailable") == 1


async def test_embedding_metrics_count_requests_and_prompt_tokens() -> None:
    fake = build_fake_app([], [FakeEmbeddingEngine()])
    async with asgi_client(fake.app) as client:
        await client.post(EMBED, json={"model": MINILM, "input": ["a b c", "d"]})
        await client.post(EMBED, json={"model": MINILM, "input": "e f"})
        samples = await scrape(client)

    labels = {"endpoint": "embeddings", "model": MINILM}
    assert sample(samples, "stellwerk_requests_total", **labels, status="200") == 2
    assert sample(samples, "stellwerk_request_latency_seconds_count", **labels) == 2
    assert sample(samples, "stellwerk_tokens_total", model=MINILM, kind="prompt") == 6


async def test_an_embedding_error_is_counted_with_its_latency() -> None:
    fake = build_fake_app([], [FakeEmbeddingEngine(unavailable="replica is starting")])
    async with asgi_client(fake.app) as client:
        await client.post(EMBED, json={"model": MINILM, "input": "hi"})
        await client.post(EMBED, json={"model": MINILM, "input": "hi"})
        samples = await scrape(client)

    labels = {"endpoint": "embeddings", "model": MINILM}
    assert sample(samples, "stellwerk_requests_total", **labels, status="503") == 2
    assert sample(samples, "stellwerk_request_latency_seconds_count", **labels) == 2
    assert sample(samples, "stellwerk_request_latency_seconds_sum", **labels) > 0



class Ticks:
    """A clock that advances 0.25 s each time it is read."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


class FailingEmbeddingEngine(FakeEmbeddingEngine):
    """Raises `error` from every call."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    async def embed(self, inputs: list[str]) -> EmbeddingResult:
        raise self.error


@pytest.mark.parametrize(("error", "status", "error_type"), [
    (EngineUnavailable("replica is starting"), "503", "service_unavailable"),
    (RuntimeError("a bug in the engine"), "500", "server_error"),
    (asyncio.CancelledError(), "499", "cancelled"),
])
async def test_the_service_counts_a_failed_engine_call_timed_by_its_injected_clock(
        error: BaseException, status: str, error_type: str) -> None:
    fake = build_fake_app([], [FailingEmbeddingEngine(error)])
    parts = fake.app.state.services
    metrics = RouterMetrics()
    service = EmbeddingsService(fake.registry, metrics, parts.routing, parts.tenancy, clock=Ticks())

    with pytest.raises(type(error)):
        await service.embed(parts.tenancy.authenticate({}), EmbeddingRequest(model=MINILM, input="hi"))

    families = text_string_to_metric_families(metrics.render().decode())
    samples = {(s.name, frozenset(s.labels.items())): s.value for family in families for s in family.samples}
    labels = {"endpoint": "embeddings", "model": MINILM}
    assert sample(samples, "stellwerk_requests_total", **labels, status=status) == 1
    assert sample(samples, "stellwerk_request_latency_seconds_sum", **labels) == 0.25
    assert sample(samples, "stellwerk_request_errors_total", **labels, type=error_type) == 1
