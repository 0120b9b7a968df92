"""A fast fake OpenAI-compatible chat server with TTFT and inter-token-latency knobs, for trying
`stellwerk bench` (and peer tools) without a model, and for tests.

It streams exactly `max_tokens` (or `max_completion_tokens`) one-word chunks: the first after `ttft_ms`,
then one every `itl_ms`, and reports usage (prompt tokens = words in the prompt). The model named
"fail" answers 500, so error counting can be tried too. Non-streaming requests get the whole answer.

    python -m benchmarks.bench.fake_server --port 8123 --ttft-ms 50 --itl-ms 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

__all__ = ["create_app", "main"]


def create_app(ttft_ms: float = 20.0, itl_ms: float = 5.0) -> FastAPI:
    """The fake server's ASGI app."""
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "stellwerk"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        if body.get("model") == "fail":
            error = {"message": "scripted failure", "type": "server_error", "param": None, "code": None}
            return JSONResponse({"error": error}, status_code=500)
        tokens = int(body.get("max_completion_tokens") or body.get("max_tokens") or 16)
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        usage = {"prompt_tokens": prompt, "completion_tokens": tokens, "total_tokens": prompt + tokens}
        if not body.get("stream"):
            await asyncio.sleep((ttft_ms + itl_ms * (tokens - 1)) / 1000)
            message = {"role": "assistant", "content": " ".join(["word"] * tokens)}
            return JSONResponse({"id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
                                 "model": body.get("model"), "usage": usage,
                                 "choices": [{"index": 0, "message": message, "finish_reason": "length"}]})
        return StreamingResponse(_stream(body.get("model"), tokens, usage, ttft_ms, itl_ms),
                                 media_type="text/event-stream")

    return app


async def _stream(model: Any, tokens: int, usage: dict[str, int], ttft_ms: float,
                  itl_ms: float) -> AsyncIterator[str]:
    started = time.perf_counter()
    for i in range(tokens):
        # Sleep to an absolute deadline so that scheduling delays do not accumulate.
        due = started + (ttft_ms + i * itl_ms) / 1000
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        delta = {"role": "assistant", "content": " word"} if i == 0 else {"content": " word"}
        yield _event(model, [{"index": 0, "delta": delta, "finish_reason": None}])
    yield _event(model, [{"index": 0, "delta": {}, "finish_reason": "length"}])
    yield _event(model, [], usage)
    yield "data: [DONE]\n\n"


def _event(model: Any, choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> str:
    chunk: dict[str, Any] = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                             "model": model, "choices": choices}
    if usage is not None:
        chunk["usage"] = usage
    return f"data: {json.dumps(chunk)}\n\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--ttft-ms", type=float, default=20.0, help="time to the first chunk (20)")
    parser.add_argument("--itl-ms", type=float, default=5.0, help="time between chunks (5)")
    args = parser.parse_args(argv)
    import uvicorn

    uvicorn.run(create_app(args.ttft_ms, args.itl_ms), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
