"""The one place that frames server-sent events. Every stream ends with `data: [DONE]`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["DONE", "sse_event", "sse_stream"]

DONE = b"data: [DONE]\n\n"


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


async def sse_stream(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """Frame each event, then the terminating `[DONE]` (also after an error event)."""
    async for event in events:
        yield sse_event(event)
    yield DONE
