"""POST /v1/embeddings: a thin route over `router.embeddings_service`."""

from __future__ import annotations

import base64
import struct

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from router.schemas import EmbeddingRequest
from router.services import AppServices
from router.tenancy.http import Caller

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/embeddings")
async def create_embeddings(body: EmbeddingRequest, ctx: Caller, svc: AppServices) -> JSONResponse:
    answer = await svc.embeddings.embed(ctx, body)
    model, result = answer.entry.id, answer.result
    data = [{"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
            for i, v in enumerate(result.vectors)]
    return JSONResponse({
        "object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
    }, headers={"x-stellwerk-model": model})


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector
