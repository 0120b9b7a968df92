"""An OpenAI-compatible upstream that misbehaves on request, in its own process:

    python -m tests.chaos.fault_upstream --port PORT

Each request picks its fault with the `x-fault` header, or (because the router does not forward its
clients' headers) with a `FAULT:<name>` word in the last user message. Faults (`FAULTS`):

    ok                  a normal streamed answer ("one two three"), then usage and [DONE]
    status_500/503/401  that status with an OpenAI error body
    status_429          429 with `Retry-After: 7`
    hang_headers        never sends the response head
    hang_mid_stream     two chunks, then nothing (the connection stays open)
    reset_mid_stream    two chunks, then the connection is dropped
    malformed_json      a `data:` line that is not JSON
    malformed_sse       a chunk whose `choices` is not a list
    surrogate           content with a lone surrogate escape ("bad \\ud800 text")
    huge_line           a single 8 MiB line without a newline
    slow_drip           a chunk every 0.3 s, forever (past any total timeout)
    no_done             two chunks, then the stream ends without a finish reason
    flood               4 KiB chunks as fast as the reader takes them, forever
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

__all__ = ["FAULTS", "FaultUpstream"]

FAULTS = ("ok", "status_500", "status_503", "status_401", "status_429", "hang_headers", "hang_mid_stream",
          "reset_mid_stream", "malformed_json", "malformed_sse", "surrogate", "huge_line", "slow_drip",
          "no_done", "flood")


def _chunk(content: str | None = None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    body = {"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 0, "model": "fault",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


_USAGE = (b'data: {"id":"chatcmpl-fault","object":"chat.completion.chunk","created":0,"model":"fault",'
          b'"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}\n\n')
_DONE = b"data: [DONE]\n\n"


class _Reset(Exception):
    """Raised mid-response: uvicorn drops the connection without finishing the body."""


class FaultUpstream:
    """The ASGI app (see the module docstring)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                kind = (await receive())["type"]
                await send({"type": f"{kind}.complete"})
                if kind == "lifespan.shutdown":
                    return
        body = await _read(receive)
        fault = _fault(scope, body)
        if fault.startswith("status_"):
            await _status(send, int(fault.removeprefix("status_")))
            return
        if fault == "hang_headers":
            await asyncio.Event().wait()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        for piece in _script(fault):
            if piece is _HANG:
                await asyncio.Event().wait()
            if piece is _RESET:
                raise _Reset()
            if isinstance(piece, float):
                await asyncio.sleep(piece)
                continue
            assert isinstance(piece, bytes)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


_HANG, _RESET = object(), object()


def _script(fault: str) -> Any:
    start = [_chunk("one"), _chunk(" two")]
    end = [_chunk(finish="stop"), _USAGE, _DONE]
    if fault == "hang_mid_stream":
        return [*start, _HANG]
    if fault == "reset_mid_stream":
        return [*start, _RESET]
    if fault == "malformed_json":
        return [*start, b"data: {not json\n\n", *end]
    if fault == "malformed_sse":
        return [*start, b'data: {"choices": "nope"}\n\n', *end]
    if fault == "surrogate":
        return [*start, b'data: {"choices":[{"index":0,"delta":{"content":"bad \\ud800 text"},'
                        b'"finish_reason":null}]}\n\n', *end]
    if fault == "huge_line":
        return [*start, b"data: " + b"x" * (8 * 1024 * 1024), *end]
    if fault == "slow_drip":
        return _drip()
    if fault == "no_done":
        return start
    if fault == "flood":
        return _flood()
    return [*start, _chunk(" three"), *end]


def _flood() -> Any:
    piece = _chunk("x" * 4096)
    while True:
        yield piece


def _drip() -> Any:
    while True:
        yield _chunk(" drip")
        yield 0.3


async def _status(send: Send, status: int) -> None:
    headers = [(b"content-type", b"application/json")]
    if status == 429:
        headers.append((b"retry-after", b"7"))
    body = json.dumps({"error": {"message": f"fault {status}", "type": "fault", "code": None}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message: Message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


def _fault(scope: Scope, body: bytes) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-fault":
            return str(value.decode())
    try:
        messages = json.loads(body).get("messages") or []
        text = str(messages[-1].get("content") or "")
    except (ValueError, AttributeError, IndexError):
        return "ok"
    for word in text.split():
        if word.startswith("FAULT:"):
            return word.removeprefix("FAULT:")
    return "ok"


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(FaultUpstream(), host="127.0.0.1", port=args.port, log_level="critical")


if __name__ == "__main__":
    main()
