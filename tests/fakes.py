"""Fake engines that implement the real interfaces of `serving.engine`, and a router built on them.

`FakeChatEngine` is scripted by behaviour (echo with a per-chunk delay, fail before or after the first
chunk, unavailable, hang, empty) and records what it was asked and how its stream ended, so tests can
check cancellation. `build_fake_app` wires fakes into the real `ModelRegistry` and `create_app` from the
shipped catalogue; every entry without a fake stays listed as unavailable, with a reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from cluster.telemetry import TelemetrySampler
from models.availability import Availability
from models.catalogue import Catalogue, ModelEntry, load_catalogue
from router.app import create_app
from router.features.request_features import RequestFeatures, structural_features
from router.metrics import RouterMetrics
from router.registry import ModelRegistry
from router.routing.build import default_routing
from router.schemas import ChatCompletionRequest
from serving.engine import ChatChunk, EmbeddingResult, EngineStats, Usage
from serving.errors import EngineUnavailable

__all__ = [
    "BASE_URL",
    "FakeApp",
    "FakeChatEngine",
    "FakeEmbeddingEngine",
    "ScriptedFeatures",
    "TableQuality",
    "asgi_client",
    "build_fake_app",
    "parse_sse",
    "sample",
    "scrape",
]

BASE_URL = "http://stellwerk.test"
NOT_FAKED = "not deployed in this test"


class FakeChatEngine:
    """A `ChatEngine` that echoes the last user message word by word, or fails as scripted.

    * `delay_s`: sleep before each word (the role chunk comes at once, so the first chunk is fast).
    * `error` + `fail_after`: raise `error` after `fail_after` words (0: before the first chunk).
    * `unavailable`: a reason; `chat`, `check_health` and `stats` raise `EngineUnavailable(reason)`.
    * `hang`: never send the first chunk. `empty`: end the stream without any chunk.
    * `stats()` reports `active` streams as running, plus the scripted `waiting`, `replicas` and
      `kv_cache_usage`; `stats_error` makes it raise that error instead.
    """

    def __init__(
        self,
        model_id: str = "gemma-3-270m",
        *,
        delay_s: float = 0.0,
        error: BaseException | None = None,
        fail_after: int = 0,
        unavailable: str | None = None,
        hang: bool = False,
        empty: bool = False,
        waiting: int = 0,
        replicas: int = 1,
        kv_cache_usage: float | None = None,
        stats_error: BaseException | None = None,
    ) -> None:
        self.model_id = model_id
        self.waiting = waiting
        self.replicas = replicas
        self.kv_cache_usage = kv_cache_usage
        self.stats_error = stats_error
        self.delay_s = delay_s
        self.error = error
        self.fail_after = fail_after
        self.unavailable = unavailable
        self.hang = hang
        self.empty = empty
        self.requests: list[dict[str, Any]] = []
        self.completed = False  # the stream ran to its end
        self.closed_early = False  # the consumer closed the stream before its end (aclose)
        self.cancelled = False  # the consumer's task was cancelled while the stream waited
        self.active = 0
        self.waiting_for_next = asyncio.Event()  # set when the engine starts a per-chunk delay
        self.finished = asyncio.Event()  # set when the stream ended, however it ended

    @property
    def last_request(self) -> dict[str, Any]:
        assert self.requests, f"{self.model_id} received no request"
        return self.requests[-1]

    @property
    def stopped_early(self) -> bool:
        return self.closed_early or self.cancelled

    async def chat(self, request: Mapping[str, Any]) -> AsyncIterator[ChatChunk]:
        self.requests.append(json.loads(json.dumps(request)))  # a deep copy, as it would go on the wire
        self.active += 1
        try:
            words = _last_user_text(request).split()
            if self.unavailable is not None:
                raise EngineUnavailable(self.unavailable)
            if self.hang:
                await asyncio.Event().wait()
            if self.empty:
                return
            if self.error is not None and self.fail_after == 0:
                raise self.error
            yield ChatChunk(role="assistant")
            for i, word in enumerate(words):
                if self.error is not None and i == self.fail_after:
                    raise self.error
                self.waiting_for_next.set()
                await asyncio.sleep(self.delay_s)
                yield ChatChunk(text=word if i == 0 else " " + word)
            yield ChatChunk(finish_reason="stop")
            yield ChatChunk(usage=Usage(prompt_tokens=_prompt_words(request), completion_tokens=len(words)))
            self.completed = True
        except GeneratorExit:
            self.closed_early = True
            raise
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            self.active -= 1
            self.finished.set()

    async def check_health(self) -> None:
        if self.unavailable is not None:
            raise EngineUnavailable(self.unavailable)

    async def stats(self) -> EngineStats:
        if self.unavailable is not None:
            raise EngineUnavailable(self.unavailable)
        if self.stats_error is not None:
            raise self.stats_error
        return EngineStats(running=self.active, waiting=self.waiting, replicas=self.replicas,
                           kv_cache_usage=self.kv_cache_usage)


class FakeEmbeddingEngine:
    """An `EmbeddingEngine` with deterministic vectors: the same text always gives the same vector.

    Components are multiples of 1/128 in [-1, 1), so they survive a float32 round trip exactly.
    """

    def __init__(self, model_id: str = "all-minilm-l6-v2", *, dim: int = 8,
                 unavailable: str | None = None) -> None:
        self.model_id = model_id
        self.dim = dim
        self.unavailable = unavailable
        self.calls: list[list[str]] = []

    @staticmethod
    def vector(text: str, dim: int = 8) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [(digest[i % len(digest)] - 128) / 128 for i in range(dim)]

    async def embed(self, inputs: list[str]) -> EmbeddingResult:
        if self.unavailable is not None:
            raise EngineUnavailable(self.unavailable)
        self.calls.append(list(inputs))
        return EmbeddingResult(vectors=[self.vector(t, self.dim) for t in inputs],
                               prompt_tokens=sum(len(t.split()) for t in inputs))

    async def check_health(self) -> None:
        if self.unavailable is not None:
            raise EngineUnavailable(self.unavailable)


class ScriptedFeatures:
    """A `FeatureSource` whose task category and quality estimate are set by the test (the learned
    classifier has its own tests); the request's shape is read by the real `structural_features`."""

    def __init__(self, category: str = "general", p_weak_ok: float | None = None) -> None:
        self.category = category
        self.p_weak_ok = p_weak_ok

    def extract(self, request: ChatCompletionRequest) -> RequestFeatures:
        shape = structural_features(request)
        return RequestFeatures(**dataclasses.asdict(shape), language="en", category=self.category,
                               category_confidence=1.0, p_weak_ok=self.p_weak_ok)


class TableQuality:
    """A `QualityScores` and `QualityPredictor` from a dict: model id → score for every category (or →
    {category: score}); `predict` reads the request's category, so tests script quality by category."""

    def __init__(self, scores: Mapping[str, float | Mapping[str, float]]) -> None:
        self.scores = dict(scores)

    def score(self, model_id: str, category: str) -> float | None:
        value = self.scores.get(model_id)
        if value is None or isinstance(value, float | int):
            return value
        return value.get(category)

    def predict(self, features: RequestFeatures, entry: ModelEntry) -> float | None:
        return self.score(entry.id, features.category)


# Local models below most floors, remote ones above: `auto` picks by task and load, not by accident.
# Gemma's small talk (0.748) wins over gpt-4o-mini's 0.75 under the value objective (whose cost weight
# 20 takes ~0.003 off mini for a short prompt) but loses to it on quality alone.
DEFAULT_QUALITY = {"gemma-3-270m": {"chit_chat": 0.748, "general": 0.748}, "llama-3.1-8b-instruct": 0.7,
                   "openai/gpt-4o-mini": 0.75,
                   "openai/gpt-4.1": 0.9, "anthropic/claude-sonnet-4": 0.92,
                   "anthropic/claude-3.5-haiku": 0.7, "gemini/gemini-2.5-flash": 0.8,
                   "gemini/gemini-2.5-pro": 0.93}


@dataclass
class FakeApp:
    """The real router app with fake engines, and the parts a test inspects."""

    app: FastAPI
    registry: ModelRegistry
    metrics: RouterMetrics
    catalogue: Catalogue
    chat: dict[str, FakeChatEngine]
    embed: dict[str, FakeEmbeddingEngine]

    @property
    def telemetry(self) -> TelemetrySampler:
        """The app's sampler; tests call `await fake.telemetry.sample()` (ASGI tests run no lifespan)."""
        sampler: TelemetrySampler = self.app.state.services.telemetry
        return sampler


def build_fake_app(
    chat: Iterable[FakeChatEngine] = (),
    embed: Iterable[FakeEmbeddingEngine] = (),
    *,
    reasons: Mapping[str, str] | None = None,
    category: str = "general",
    routing_config: Path | None = None,
    decision_log: Path | None = None,
    **app_kwargs: Any,
) -> FakeApp:
    """A router over the shipped catalogue: faked ids are available, every other entry is not
    (with `reasons[id]`, or a default reason). Routing uses `ScriptedFeatures(category)` and the
    `DEFAULT_QUALITY` table, with the shipped routing configuration unless `routing_config` is given."""
    catalogue = load_catalogue()
    chat_engines = {e.model_id: e for e in chat}
    embed_engines = {e.model_id: e for e in embed}
    known = {m.id for m in catalogue.models}
    unknown = (chat_engines.keys() | embed_engines.keys()) - known
    if unknown:
        raise ValueError(f"fakes for ids not in the catalogue: {sorted(unknown)}")
    reasons = reasons or {}
    availabilities = [
        Availability(m, True) if m.id in chat_engines or m.id in embed_engines
        else Availability(m, False, reasons.get(m.id, NOT_FAKED))
        for m in catalogue.models
    ]
    registry = ModelRegistry(availabilities, chat_engines, embed_engines)
    metrics = app_kwargs.pop("metrics", None) or RouterMetrics()
    app_kwargs.setdefault("routing", default_routing(
        registry, features=ScriptedFeatures(category), quality=TableQuality(DEFAULT_QUALITY),
        config_path=routing_config, decision_log=decision_log))
    app = create_app(registry, metrics=metrics, **app_kwargs)
    return FakeApp(app, registry, metrics, catalogue, chat_engines, embed_engines)


@asynccontextmanager
async def asgi_client(app: FastAPI, *, raise_app_exceptions: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that calls the ASGI app in process (no network)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


def parse_sse(body: str) -> list[Any]:
    """The payloads of an SSE body: a dict per JSON event, the string "[DONE]" for the end marker.

    Fails on anything that is not a well-formed `data: ...` frame.
    """
    assert body.endswith("\n\n"), f"SSE body does not end with a blank line: {body[-40:]!r}"
    events: list[Any] = []
    for frame in body[:-2].split("\n\n"):
        assert frame.startswith("data: ") and "\n" not in frame, f"bad SSE frame: {frame!r}"
        data = frame[len("data: "):]
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """GET /metrics, parsed: (sample name, labels) -> value."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def sample(samples: Mapping[tuple[str, frozenset[tuple[str, str]]], float], name: str,
           **labels: str) -> float:
    """One sample's value from `scrape`'s result; 0 when the series does not exist (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def _last_user_text(request: Mapping[str, Any]) -> str:
    for message in reversed(request.get("messages", [])):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def _prompt_words(request: Mapping[str, Any]) -> int:
    return sum(len(str(m.get("content") or "").split()) for m in request.get("messages", []))
