"""Ray Serve's maintained `LLMServer`, plus the two things Stellwerk needs that it does not offer.

`ray.serve.llm.LLMServer` runs vLLM's `AsyncLLM` in a Serve replica and speaks vLLM's OpenAI protocol
objects. We subclass it rather than write our own engine wrapper, and add only:

* `chat_from_dict`: takes the request as a plain dict and builds vLLM's `ChatCompletionRequest` inside
  the replica, so the router process never imports vLLM (seconds of start-up and ~1 GiB saved), and
  returns chunks as JSON strings (one `json.loads` in the router, no SSE re-parsing).
* `engine_stats`: the engine's own count of unfinished requests, for queue-depth telemetry and for
  proving that a cancelled stream stops generating.

This module is imported inside Ray workers, where vLLM is installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ray.serve.llm import LLMServer

__all__ = ["StellwerkLLMServer"]

_SSE_PREFIX = "data: "


class StellwerkLLMServer(LLMServer):
    """An `LLMServer` that also accepts dict requests and reports its engine's queue."""

    async def chat_from_dict(self, body: dict[str, Any]) -> AsyncIterator[list[str | dict[str, Any]]]:
        """Yield batches; each item is a chunk's JSON text or an error dict {"error": {...}}."""
        from pydantic import ValidationError
        from ray.llm._internal.serve.core.configs.openai_api_models import (
            ChatCompletionRequest,
        )

        try:
            request = ChatCompletionRequest(**body)
        except ValidationError as exc:
            yield [{"error": {"message": _validation_message(exc), "code": 400}}]
            return
        stream = await self.chat(request)
        async for batch in stream:
            yield [_unwrap(item) for item in (batch if isinstance(batch, list) else [batch])]

    async def engine_stats(self) -> dict[str, float]:
        """Requests the engine holds (running or waiting), read from vLLM's AsyncLLM."""
        client = getattr(self.engine, "_engine_client", None)
        if client is None:
            return {"unfinished": 0.0, "ready": 0.0}
        return {"unfinished": float(client.get_num_unfinished_requests()), "ready": 1.0}


def _unwrap(item: Any) -> str | dict[str, Any]:
    if isinstance(item, str):
        text = item.strip()
        return text[len(_SSE_PREFIX):] if text.startswith(_SSE_PREFIX) else text
    dump: dict[str, Any] = item.model_dump()
    return dump


def _validation_message(exc: Any) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts) or str(exc)
