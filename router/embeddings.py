"""POST /v1/embeddings."""

from __future__ import annotations

import base64
import struct
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from router.metrics import RouterMetrics
from router.registry import ModelRegistry
from router.schemas import EmbeddingRequest
from router.tenancy.http import Caller
from router.tenancy.service import TenancyService
from serving.errors import InvalidRequest, StellwerkError

__all__ = ["router"]

router = APIRouter()
_ENDPOINT = "embeddings"


@router.post("/v1/embeddings")
async def create_embeddings(body: EmbeddingRequest, request: Request,
                            ctx: Caller) -> JSONResponse:
    registry: ModelRegistry = request.app.state.registry
    metrics: RouterMetrics = request.app.state.metrics
    tenancy: TenancyService = request.app.state.tenancy
    try:
        entry, engine = registry.embedding_engine(body.model)
        if body.dimensions is not None:
            raise InvalidRequest(f"model {entry.id!r} does not support 'dimensions'", param="dimensions")
        tenancy.admit(ctx, sum(len(text) for text in body.inputs()) // 3 + 1)
        screening = tenancy.screen(ctx, body.inputs())
        request.app.state.routing.check_allowed(entry, tenancy.policies(ctx, screening))
    except StellwerkError as exc:
        tenancy.record_failure(ctx, body.model, exc, _ENDPOINT)
        raise
    started = time.perf_counter()
    try:
        result = await engine.embed(body.inputs())
    except StellwerkError as exc:
        metrics.errors.labels(_ENDPOINT, entry.id, exc.error_type).inc()
        metrics.requests.labels(_ENDPOINT, entry.id, str(exc.status_code)).inc()
        tenancy.record_embedding(ctx, entry, 0, exc.status_code, exc.code or exc.error_type)
        raise
    tenancy.record_embedding(ctx, entry, result.prompt_tokens, 200, None)
    metrics.latency.labels(_ENDPOINT, entry.id).observe(time.perf_counter() - started)
    metrics.requests.labels(_ENDPOINT, entry.id, "200").inc()
    metrics.tokens.labels(entry.id, "prompt").inc(result.prompt_tokens)
    data = [{"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
            for i, v in enumerate(result.vectors)]
    return JSONResponse({
        "object": "list", "data": data, "model": entry.id,
        "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
    }, headers={"x-stellwerk-model": entry.id})


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector
