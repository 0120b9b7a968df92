"""Read server-sent events from an upstream HTTP response (OpenAI, Anthropic and Gemini all stream SSE)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

__all__ = ["DEADLINE_EXTENSION", "MAX_LINE_CHARS", "DeadlineExceeded", "LineTooLong", "SseEvent", "iter_sse"]

# A request extension holding a time.monotonic() deadline for the whole answer.
DEADLINE_EXTENSION = "stellwerk.deadline"


# The longest line (and event) we accept from an upstream: chunks are small; a line this long is garbage.
MAX_LINE_CHARS = 4 * 1024 * 1024


class DeadlineExceeded(Exception):
    """The response ran past the deadline its request carried."""


class LineTooLong(ValueError):
    """An upstream sent a line (or an event) longer than we accept: a malformed reply."""


@dataclass(frozen=True)
class SseEvent:
    event: str | None
    data: str


async def iter_sse(response: httpx.Response, max_line_chars: int = MAX_LINE_CHARS) -> AsyncIterator[SseEvent]:
    """Events as the spec frames them: `event:`/`data:` lines, a blank line ends an event. A line or an
    event over `max_line_chars` raises `LineTooLong`: a broken upstream cannot fill our memory."""
    event: str | None = None
    data: list[str] = []
    size = 0
    async for line in _lines(response, max_line_chars):
        if not line:
            if data:
                yield SseEvent(event, "\n".join(data))
            event, data, size = None, [], 0
        elif line.startswith(":"):
            continue  # a comment / keep-alive
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                size += len(value)
                if size > max_line_chars:
                    raise LineTooLong(f"an event's data is over {max_line_chars} characters")
                data.append(value)
    if data:
        yield SseEvent(event, "\n".join(data))


async def _lines(response: httpx.Response, max_chars: int) -> AsyncIterator[str]:
    """The response's lines (split at \\r\\n, \\n or \\r), each at most `max_chars`; the deadline is
    checked on every piece received, so a drip of bytes without a newline still ends in time."""
    deadline = response.request.extensions.get(DEADLINE_EXTENSION)
    pending = ""
    async for text in response.aiter_text():
        if deadline is not None and time.monotonic() > deadline:
            raise DeadlineExceeded()
        pending += text
        while True:
            cut = _line_end(pending)
            if cut is None:
                break
            end, after = cut
            yield pending[:end]
            pending = pending[after:]
        if len(pending) > max_chars:
            raise LineTooLong(f"a line is over {max_chars} characters")
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded()
    if pending:
        yield pending.removesuffix("\r")


def _line_end(text: str) -> tuple[int, int] | None:
    """(end of the first line, start of the next), or None while the line may still go on."""
    newline, carriage = text.find("\n"), text.find("\r")
    if carriage == -1 or (newline != -1 and newline < carriage):
        return None if newline == -1 else (newline, newline + 1)
    if carriage == len(text) - 1:
        return None  # a \r\n may be split across two pieces
    return carriage, carriage + 2 if text[carriage + 1] == "\n" else carriage + 1
