"""One streamed chat request against an OpenAI-compatible endpoint, timed chunk by chunk.

The clock is injected (a `() -> seconds` function) so tests can script exact timings. A request is a
failure when the server answers an HTTP error, the connection fails or times out, the stream carries an
error event, or it ends without any generated text; the failure's kind is kept (`500`, `429`, `timeout`,
`connect-error`, `stream-error`, `empty-stream`) so errors can be counted by status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.bench.prompts import Prompt

__all__ = ["Clock", "RequestRecord", "RequestSettings", "chat_body", "send_chat"]

Clock = Callable[[], float]


@dataclass(frozen=True)
class RequestSettings:
    """What every request of a run carries besides its prompt."""

    model: str
    ignore_eos: bool = True  # vLLM's ignore_eos (and stop=[]): the output is exactly max_tokens long
    temperature: float = 0.0
    extra_body: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class RequestRecord:
    """The raw timings of one request. Times are seconds; `token_times_s` count from the send."""

    index: int
    start_s: float  # when it was sent, from the step's start
    scheduled_s: float | None  # when it was planned (rate modes), from the step's start
    max_tokens: int
    requested_input_tokens: int | None
    ok: bool = False
    status: str = ""  # "200", "500", "timeout", ... (the key errors are counted by)
    error: str | None = None
    e2e_s: float | None = None  # send → end of the stream (or → the failure)
    token_times_s: list[float] = field(default_factory=list)  # each chunk with text, from the send
    prompt_tokens: int | None = None
    output_tokens: int = 0  # usage.completion_tokens, else the number of chunks with text
    usage_reported: bool = False

    @property
    def ttft_s(self) -> float | None:
        return self.token_times_s[0] if self.token_times_s else None


def chat_body(settings: RequestSettings, prompt: Prompt) -> dict[str, Any]:
    """The request body: a streamed chat completion asking for usage in the last chunk."""
    body: dict[str, Any] = {
        "model": settings.model, "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": prompt.text}], "max_tokens": prompt.max_tokens,
        "temperature": settings.temperature,
    }
    if settings.ignore_eos:
        # NOTE: ignore_eos is vLLM-only; servers that refuse unknown fields need --no-ignore-eos. stop=[]
        # turns off a server's default stop strings. No min_tokens: it is not needed with ignore_eos,
        # guidellm does not send it, and it measurably slowed vLLM's decoding here at 4 streams.
        body.update(ignore_eos=True, stop=[])
    body.update(settings.extra_body)
    return body


async def send_chat(client: httpx.AsyncClient, url: str, body: dict[str, Any], record: RequestRecord,
                    clock: Clock) -> RequestRecord:
    """Send `body` to `url` (…/chat/completions), filling `record` with what happened; never raises
    for request failures."""
    started = clock()
    try:
        async with client.stream("POST", url, json=body) as reply:
            record.status = str(reply.status_code)
            if reply.status_code != 200:
                await reply.aread()
                _fail(record, record.status, _error_text(reply))
            else:
                await _read_stream(reply, record, clock, started)
    except httpx.TimeoutException as exc:
        _fail(record, "timeout", f"{type(exc).__name__}: {exc}")
    except httpx.TransportError as exc:
        kind = "connect-error" if record.status == "" else "stream-error"
        _fail(record, kind, f"{type(exc).__name__}: {exc}")
    record.e2e_s = clock() - started
    return record


async def _read_stream(reply: httpx.Response, record: RequestRecord, clock: Clock, started: float) -> None:
    async for line in reply.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            _fail(record, "stream-error", f"not JSON: {data[:200]}")
            return
        if "error" in chunk:
            _fail(record, "stream-error", json.dumps(chunk["error"])[:500])
            return
        if _has_text(chunk):
            record.token_times_s.append(clock() - started)
        if usage := chunk.get("usage"):
            record.prompt_tokens = usage.get("prompt_tokens")
            record.output_tokens = int(usage.get("completion_tokens") or 0)
            record.usage_reported = True
    if not record.token_times_s:
        _fail(record, "empty-stream", "the stream carried no generated text")
        return
    if not record.usage_reported:
        record.output_tokens = len(record.token_times_s)
    record.ok = True


def _has_text(chunk: Mapping[str, Any]) -> bool:
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls"):
            return True
    return False


def _fail(record: RequestRecord, status: str, message: str) -> None:
    record.ok, record.status, record.error = False, status, message


def _error_text(reply: httpx.Response) -> str:
    try:
        error = reply.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
        return str(message)[:500]
    except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
        return reply.text[:500]
