"""A fast fake OpenAI-compatible upstream: answers chat completions at once, plain or streamed.

It is the "provider" behind the gateways in the overhead benchmark, so it must cost as little CPU as
possible: a bare ASGI app (no framework), answers encoded once per (model, stream options) and reused.

Routes: `POST {anything}/chat/completions` (a `chat.completion`, or `chat.completion.chunk` SSE events:
the role chunk, one chunk per text piece, the finish chunk, the usage chunk when
`stream_options.include_usage` is set, then `data: [DONE]`), `GET {anything}/models`. Any bearer key is
accepted. Errors use OpenAI's body `{"error": {message, type, param, code}}`.

    python -m benchmarks.overhead.fake_upstream --port 9000 [--pieces 8]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

__all__ = ["ANSWER_PIECES", "FakeUpstream", "answer_pieces", "answer_text", "main"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_WORDS = ("The ", "signal ", "box ", "sets ", "each ", "train's ", "route ", "today. ",
          "Trains ", "run ", "on ", "time. ", "Points ", "move ", "and ", "lock.")
ANSWER_PIECES = 8
_CREATED = 1_700_000_000
_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


def answer_text(pieces: int = ANSWER_PIECES) -> str:
    """The whole answer text for `pieces` streamed pieces (the non-streamed answer is the same text)."""
    return "".join(answer_pieces(pieces))


def answer_pieces(n: int = ANSWER_PIECES) -> list[str]:
    """The text pieces of a streamed answer, in order."""
    return [_WORDS[i % len(_WORDS)] for i in range(n)]


def _usage(pieces: int) -> dict[str, int]:
    return {"prompt_tokens": 11, "completion_tokens": pieces, "total_tokens": 11 + pieces}


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-fast", "object": "chat.completion.chunk", "created": _CREATED, "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}


def completion_body(model: str, pieces: int = ANSWER_PIECES) -> bytes:
    """The encoded `chat.completion` answer."""
    message = {"role": "assistant", "content": answer_text(pieces), "refusal": None}
    body = {"id": "chatcmpl-fast", "object": "chat.completion", "created": _CREATED, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
            "usage": _usage(pieces)}
    return json.dumps(body).encode()


def stream_events(model: str, include_usage: bool, pieces: int = ANSWER_PIECES) -> list[bytes]:
    """The encoded SSE events of a streamed answer, `data: [DONE]` last."""
    chunks = [_chunk(model, {"role": "assistant", "content": ""})]
    chunks += [_chunk(model, {"content": p}) for p in answer_pieces(pieces)]
    chunks.append(_chunk(model, {}, "stop"))
    if include_usage:
        chunks.append({**_chunk(model, {}), "choices": [], "usage": _usage(pieces)})
    return [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]


def _error_body(status: int, message: str) -> bytes:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}).encode()


class FakeUpstream:
    """The ASGI app. Counts the chat requests it answered in `answered` (for tests and sanity checks)."""

    def __init__(self, pieces: int = ANSWER_PIECES) -> None:
        self.pieces = pieces
        self.answered = 0
        self._cache: dict[tuple[str, bool, bool], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        path: str = scope["path"]
        if scope["method"] == "POST" and path.endswith("/chat/completions"):
            await self._chat(await _read_body(receive), send)
        elif scope["method"] == "GET" and path.endswith("/models"):
            body = json.dumps({"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": _CREATED, "owned_by": "fake"}]}).encode()
            await _respond(send, 200, body)
        else:
            await _respond(send, 404, _error_body(404, f"no route {scope['method']} {path}"))

    async def _chat(self, raw: bytes, send: Send) -> None:
        try:
            request = json.loads(raw)
            model = str(request["model"])
        except (ValueError, KeyError, TypeError):
            await _respond(send, 400, _error_body(400, "the body must be a JSON object with a 'model'"))
            return
        stream = bool(request.get("stream"))
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        self.answered += 1
        if not stream:
            await _respond(send, 200, self._cached(model, False, False))
            return
        await send({"type": "http.response.start", "status": 200, "headers": _SSE})
        for event in self._cached(model, True, include_usage):
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _cached(self, model: str, stream: bool, include_usage: bool) -> Any:
        key = (model, stream, include_usage)
        if key not in self._cache:
            if len(self._cache) > 64:  # arbitrary model names must not grow memory without bound
                self._cache.clear()
            self._cache[key] = (stream_events(model, include_usage, self.pieces) if stream
                                else completion_body(model, self.pieces))
        return self._cache[key]


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead.fake_upstream",
                                     description="Serve the fast fake OpenAI-compatible upstream.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pieces", type=int, default=ANSWER_PIECES, help="text pieces per answer")
    args = parser.parse_args(argv)
    import uvicorn

    uvicorn.run(FakeUpstream(args.pieces), host=args.host, port=args.port, log_level="warning",
                access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
