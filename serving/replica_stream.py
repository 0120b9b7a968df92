"""What a chat replica sends through its Serve handle: batches of typed deltas, never SSE text.

The replica (`serving.llm_server`, inside Ray) turns each of vLLM's OpenAI chunks into our `ChatChunk`
(text, tool-call pieces, finish reason, usage) with the one OpenAI-chunk parser every engine uses
(`serving.openai_chunk`), or into a `ReplicaError`; the router (`serving.ray_engine`) reads them as
they are. Batching: `paced_batches` sends the first delta of a stream at once and after that at most one
batch per interval, so a fast engine does not pay one Ray message per token and the first token is
never held back (Ray's own batcher waits a whole interval before its first batch).

Neither vLLM nor Ray is imported here: both sides of the handle import this module.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

from serving.engine import ChatChunk
from serving.errors import EngineFailed
from serving.openai_chunk import chunk_of

__all__ = ["Delta", "ReplicaError", "deltas_of", "error_of", "paced_batches"]

T = TypeVar("T")

_SSE_PREFIX = "data: "
_DONE = "[DONE]"


@dataclass(frozen=True)
class ReplicaError:
    """An error the engine reported (vLLM's `{message, type, code}`); `code` is an HTTP status."""

    message: str
    code: int
    type: str = ""


Delta = ChatChunk | ReplicaError


def error_of(error: Any) -> ReplicaError:
    """Our error for vLLM's error object (`ErrorResponse.error` dumped, or a chunk's `error` field)."""
    if not isinstance(error, dict):
        return ReplicaError(str(error) or "the engine reported an error", 500)
    code = error.get("code")
    return ReplicaError(str(error.get("message") or "the engine reported an error"),
                        code if isinstance(code, int) and not isinstance(code, bool) else 500,
                        str(error.get("type") or ""))


def deltas_of(sse: str) -> list[Delta]:
    """The deltas of one of vLLM's SSE events (`data: {...}`; `[DONE]` has none). A chunk vLLM got
    wrong (malformed JSON, a failed finish reason) becomes a 502-class `ReplicaError`."""
    text = sse.strip()
    if text.startswith(_SSE_PREFIX):
        text = text[len(_SSE_PREFIX):]
    if text == _DONE or not text:
        return []
    try:
        payload = json.loads(text)
        if not isinstance(payload, dict):
            raise ValueError("a stream chunk is not a JSON object")
        if "error" in payload:
            return [error_of(payload["error"])]
        chunk = chunk_of(payload)
    except ValueError as exc:
        return [ReplicaError(f"the engine sent a malformed chunk ({exc})", 502)]
    except EngineFailed as exc:
        return [ReplicaError(exc.message, 502)]
    return [] if chunk is None else [chunk]


async def paced_batches(items: AsyncIterator[T], interval_s: float) -> AsyncIterator[list[T]]:
    """Batches of `items`: the first item alone and at once, then whatever arrived, at most one batch
    per `interval_s`. Closing this generator stops reading `items` (and closes them)."""
    queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()

    async def read() -> None:
        try:
            async for item in items:
                queue.put_nowait((False, item))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            queue.put_nowait((True, exc))
            raise
        queue.put_nowait((True, None))

    reader = asyncio.create_task(read())
    last_sent = float("-inf")
    try:
        while True:
            ended, first = await queue.get()
            if ended:
                if first is not None:
                    raise first
                return
            if (wait := last_sent + interval_s - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            batch, end = _drain(queue, [first])
            if batch:
                yield batch
            last_sent = time.monotonic()
            if end is not None:
                ended, error = end
                if error is not None:
                    raise error
                return
    finally:
        if not reader.done():
            reader.cancel()
        # NOTE: the reader re-raises what it forwarded (or its cancellation): retrieve it so that
        # asyncio does not log "exception was never retrieved".
        await asyncio.gather(reader, return_exceptions=True)


def _drain(queue: asyncio.Queue[tuple[bool, Any]], batch: list[Any]) -> tuple[list[Any], Any]:
    """Everything queued after `batch`, and the end marker if the stream ended meanwhile."""
    while not queue.empty():
        ended, item = queue.get_nowait()
        if ended:
            return batch, (ended, item)
        batch.append(item)
    return batch, None
