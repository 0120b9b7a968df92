"""Read server-sent events from an upstream HTTP response (OpenAI, Anthropic and Gemini all stream SSE)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

__all__ = ["DEADLINE_EXTENSION", "DeadlineExceeded", "SseEvent", "iter_sse"]

# A request extension holding a time.monotonic() deadline for the whole answer.
DEADLINE_EXTENSION = "stellwerk.deadline"


class DeadlineExceeded(Exception):
    """The response ran past the deadline its request carried."""


@dataclass(frozen=True)
class SseEvent:
    event: str | None
    data: str


async def iter_sse(response: httpx.Response) -> AsyncIterator[SseEvent]:
    """Events as the spec frames them: `event:`/`data:` lines, a blank line ends an event."""
    event: str | None = None
    data: list[str] = []
    deadline = response.request.extensions.get(DEADLINE_EXTENSION)
    async for line in response.aiter_lines():
        if deadline is not None and time.monotonic() > deadline:
            raise DeadlineExceeded()
        if not line:
            if data:
                yield SseEvent(event, "\n".join(data))
            event, data = None, []
        elif line.startswith(":"):
            continue  # a comment / keep-alive
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data:
        yield SseEvent(event, "\n".join(data))
