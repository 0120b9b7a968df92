"""The one place that frames server-sent events, and the loop that sends a dialect's stream.

A dialect's formatter (`StreamFormat`: `router/chat/stream.py` for OpenAI chat chunks,
`router/anthropic/stream.py` for Anthropic's Messages events, `router/responses/stream.py` for the
Responses API) turns each typed run event (`router.run_events`) into its frames; `sse_stream` runs it
and ends the stream as the dialect does (OpenAI streams with `data: [DONE]`; Anthropic-style named-event
streams with their own last event). `SseResponse` sends the frames with a deadline for the whole answer
that also covers writing to the client, and always settles the answer's run.

Formatting happens inside the error handling: an event that cannot be encoded (a bug: engine text is
cleaned in `router.chat.text`), or an error raised while the events are made (e.g. the ledger cannot
record the answer), becomes one error event in the stream's own dialect and the stream still ends properly.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import Any, Protocol, TypeVar

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from router.run_events import RunError
from serving.errors import InternalError, StellwerkError

__all__ = ["DEFAULT_STREAM_DEADLINE_S", "DEFAULT_WRITE_TIMEOUT_S", "DONE", "SseResponse",
           "StreamFormat", "compact_json", "named_sse_event", "openai_error_body", "sse_event",
           "sse_stream"]

logger = logging.getLogger(__name__)

DONE = b"data: [DONE]\n\n"
# A streamed answer may take this long in all (engine time and writing to the client together) ...
DEFAULT_STREAM_DEADLINE_S = 900.0
# ... and one write may wait this long for a client that stopped reading (its socket buffer is full).
DEFAULT_WRITE_TIMEOUT_S = 30.0

_INTERNAL = InternalError("internal error in the Stellwerk router; see its log")
# The JSON of every event, compact and in UTF-8 (what formatters that splice JSON text must use too).
# NOTE: one encoder for all: `json.dumps` with any non-default option builds a new one per call.
compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
E = TypeVar("E")
E_contra = TypeVar("E_contra", contravariant=True)


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + compact_json(payload).encode() + b"\n\n"


def named_sse_event(name: str, payload: dict[str, Any]) -> bytes:
    """A typed event (`event: NAME` + `data: JSON`), as Anthropic's and the Responses API's streams send."""
    return b"event: " + name.encode() + b"\n" + sse_event(payload)


def openai_error_body(error: RunError) -> dict[str, Any]:
    """OpenAI's error object (as `serving.errors.error_body` writes it for a response)."""
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


class StreamFormat(Protocol[E_contra]):
    """One dialect's wire format for a stream: `frames` for each event (b"" for none), `failure` for an
    error raised while the events were made or the deadline that ended them, `end` after everything
    (b"" for nothing). An instance serves one stream (it may keep state, e.g. open content blocks)."""

    def frames(self, event: E_contra) -> bytes: ...

    def failure(self, error: RunError) -> bytes: ...

    def end(self) -> bytes: ...


async def sse_stream(events: AsyncGenerator[E, None], fmt: StreamFormat[E]) -> AsyncGenerator[bytes, None]:
    """Each event's frames in `fmt`'s dialect, then its end (also after an error)."""
    async with aclosing(events):
        try:
            async for event in events:
                data = fmt.frames(event)
                if data:
                    yield data
        except StellwerkError as exc:  # e.g. the ledger could not record the answer
            yield fmt.failure(RunError.of(exc))
        except Exception:  # our bug (e.g. an event that cannot be encoded): one error event, then the end
            logger.exception("an SSE event could not be produced")
            yield fmt.failure(RunError.of(_INTERNAL))
    end = fmt.end()
    if end:
        yield end


class SseResponse(StreamingResponse):
    """A `text/event-stream` response that ends within `deadline_s` in all and gives up on a client
    that does not take a write within `write_timeout_s`; `on_deadline` runs first when the deadline
    ended it, then the stream ends with `deadline_frames()`; `on_close` runs last, however it ended."""

    def __init__(self, content: AsyncGenerator[bytes, None], *, headers: Mapping[str, str],
                 on_close: Callable[[], Awaitable[None]],
                 on_deadline: Callable[[], None] = lambda: None,
                 deadline_frames: Callable[[], bytes] = bytes,
                 deadline_s: float = DEFAULT_STREAM_DEADLINE_S,
                 write_timeout_s: float = DEFAULT_WRITE_TIMEOUT_S) -> None:
        super().__init__(content, media_type="text/event-stream",
                         headers={**headers, "cache-control": "no-cache"})
        self._content = content
        self._on_close = on_close
        self._on_deadline = on_deadline
        self._deadline_frames = deadline_frames
        self._client_stalled = False
        self._settling = False  # the body is complete or the response is settling: no more cancelling
        self._deadline_s = deadline_s
        self._write_timeout_s = write_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream in this task; one watcher task waits for the client's disconnect and cancels it.
        NOTE: replaces Starlette's anyio task group (two tasks and a cancel scope per response, ~5 % of
        a streamed request's CPU); a disconnect still ends the stream at once, through the same
        `finally` as before (the engine is stopped, the run and its ledger row settled)."""
        task = asyncio.current_task()
        assert task is not None
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            if not self._settling:  # NOTE: uvicorn also reports a disconnect once the body is complete
                gone = True
                task.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            if not (gone and task.uncancel() == 0):
                raise  # not our cancellation: shutdown, or a caller's deadline
        finally:
            watcher.cancel()

    async def stream_response(self, send: Send) -> None:
        try:
            async with asyncio.timeout(self._deadline_s):
                await self._send_all(send)
        except TimeoutError:
            # NOTE: the client may not be reading, so nothing more is written: the connection is
            # closed (uvicorn closes it when the app returns without finishing the body).
            if self._client_stalled:
                logger.warning("stream ended: the client took no data for %g s", self._write_timeout_s)
            else:
                logger.warning("stream ended: over its deadline of %g s", self._deadline_s)
                self._on_deadline()
                await self._end_with(send, self._deadline_frames())
        finally:
            self._settling = True
            # NOTE: closing the iterator here (not at garbage collection) runs the engine's and the
            # run's `finally` now: the upstream is cancelled, gauges and the ledger row are settled.
            try:
                await self._content.aclose()
            finally:
                await self._on_close()

    async def _end_with(self, send: Send, frames: bytes) -> None:
        """Send the closing frames and end the body, if the client takes them within the write timeout."""
        self._settling = True
        try:
            async with asyncio.timeout(self._write_timeout_s):
                await send({"type": "http.response.body", "body": frames, "more_body": False})
        except TimeoutError:
            logger.warning("the client took no data for %g s; the stream ends without its end",
                           self._write_timeout_s)

    async def _send_all(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        watch = _WriteWatch(self._write_timeout_s)
        try:
            async for chunk in self._content:
                watch.writing()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                watch.written()
        except asyncio.CancelledError:
            if watch.fired and watch.task.uncancel() == 0:
                self._client_stalled = True
                raise TimeoutError from None
            raise
        finally:
            watch.close()
        self._settling = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class _WriteWatch:
    """Cancels the current task once one write has waited `timeout_s`. NOTE: one timer per period, not
    an `asyncio.timeout` per write (a timer handle made and cancelled for each of a stream's chunks)."""

    def __init__(self, timeout_s: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.task = task
        self.fired = False
        self._loop = asyncio.get_running_loop()
        self._timeout_s = timeout_s
        self._since: float | None = None  # when the write under way began
        self._timer: asyncio.TimerHandle | None = None

    def writing(self) -> None:
        self._since = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self._timeout_s, self._check)

    def written(self) -> None:
        self._since = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self._since is None:
            return  # no write under way: the next one arms the timer again
        due = self._since + self._timeout_s
        if self._loop.time() >= due:
            self.fired = True
            self.task.cancel()
        else:
            self._timer = self._loop.call_at(due, self._check)
