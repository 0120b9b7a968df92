"""The one place that frames server-sent events: OpenAI streams end with `data: [DONE]`; Anthropic-style
named-event streams end with their own `message_stop` event."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["DONE", "named_sse_stream", "sse_event", "sse_stream"]

DONE = b"data: [DONE]\n\n"


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


async def sse_stream(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """Frame each event, then the terminating `[DONE]` (also after an error event)."""
    async for event in events:
        yield sse_event(event)
    yield DONE


async def named_sse_stream(events: AsyncIterator[tuple[str, dict[str, Any]]]) -> AsyncIterator[bytes]:
    """Frame typed events (`event: NAME` + `data: JSON`), as Anthropic streams: no `[DONE]`."""
    async for name, payload in events:
        yield f"event: {name}\n".encode() + sse_event(payload)
