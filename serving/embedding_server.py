"""A Ray Serve deployment that embeds text with a sentence-transformers model on the CPU.

We do not run this model on vLLM: a vLLM pooling engine is a separate engine process (~5 GiB PSS on
CPU), and a 24 GiB machine cannot hold it beside the chat model. sentence-transformers keeps the
22M-parameter MiniLM in the replica itself (~0.5 GiB).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ray import serve

__all__ = ["EmbeddingServer"]


@serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=64)
class EmbeddingServer:
    """Embeds lists of strings; returns {"vectors": [[float]], "prompt_tokens": int}."""

    def __init__(self, model_dir: str, max_seq_length: int) -> None:
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(model_dir, device="cpu")
        self._model.max_seq_length = max_seq_length
        self._lock = asyncio.Lock()

    async def embed(self, inputs: list[str]) -> dict[str, Any]:
        async with self._lock:  # one batch at a time: torch already uses every core for one batch
            return await asyncio.to_thread(self._embed, inputs)

    def _embed(self, inputs: list[str]) -> dict[str, Any]:
        tokens = self._model.tokenizer(inputs, truncation=True, max_length=self._model.max_seq_length)
        vectors = self._model.encode(inputs, normalize_embeddings=True, convert_to_numpy=True)
        return {
            "vectors": vectors.tolist(),
            "prompt_tokens": sum(len(ids) for ids in tokens["input_ids"]),
        }

    async def check_health(self) -> None:
        return None
