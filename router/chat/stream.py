"""The OpenAI Chat Completions stream: run events (`router.run_events`) -> `chat.completion.chunk` frames.

Every chunk of one answer starts with the same id, object, created and model, so that prefix is encoded
once per stream (NOTE: the streaming hot path; the output is exactly what `json.dumps` of the whole
chunk object writes, with `router.sse`'s separators).
"""

from __future__ import annotations

from typing import Any

from router.chat.service import usage_body
from router.run_events import Delta, RunDone, RunError, RunEvent, RunStarted
from router.sse import DONE, compact_json, openai_error_body, sse_event
from serving.engine import ToolCallDelta

__all__ = ["OpenAIChatFormat", "openai_delta"]

_dumps = compact_json
_ROLE = '[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}'


class OpenAIChatFormat:
    """`chat.completion.chunk`s: the role chunk, one chunk per delta, the usage chunk when the client
    asked for it (`stream_options.include_usage`), an error as OpenAI's error object; then `[DONE]`."""

    def __init__(self, *, include_usage: bool) -> None:
        self._include_usage = include_usage
        self._head = ""  # 'data: {"id":...,"choices":' once the run started

    def frames(self, event: RunEvent) -> bytes:
        if isinstance(event, Delta):
            return self._chunk(_delta_json(event), event.finish_reason)
        if isinstance(event, RunStarted):
            self._head = (f'data: {{"id":{_dumps(event.id)},"object":"chat.completion.chunk",'
                          f'"created":{event.created},"model":{_dumps(event.model)},"choices":')
            return (self._head + _ROLE + "\n\n").encode()
        if isinstance(event, RunDone):
            return self._usage(event) if self._include_usage else b""
        return self.failure(event)

    def failure(self, error: RunError) -> bytes:
        return sse_event(openai_error_body(error))

    def end(self) -> bytes:
        return DONE

    def _chunk(self, delta: str, finish_reason: str | None) -> bytes:
        finish = "null" if finish_reason is None else _dumps(finish_reason)
        return (f'{self._head}[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]}}'
                "\n\n").encode()

    def _usage(self, done: RunDone) -> bytes:
        cost = None if done.cost is None else round(done.cost, 10)
        stellwerk = {"cost": cost, "currency": done.currency}
        tail = _dumps({"usage": usage_body(done.usage), "stellwerk": stellwerk})
        return f"{self._head}[],{tail[1:]}\n\n".encode()


def _delta_json(delta: Delta) -> str:
    if not delta.reasoning and not delta.tool_calls:  # the common case: text only, or only the finish
        return f'{{"content":{_dumps(delta.text)}}}' if delta.text else "{}"
    return _dumps(openai_delta(delta))


def openai_delta(delta: Delta) -> dict[str, Any]:
    """The OpenAI `delta` object of one chunk: reasoning, content and/or tool-call pieces."""
    out: dict[str, Any] = {}
    if delta.reasoning:  # thinking text, in the field vLLM and DeepSeek stream it in
        out["reasoning_content"] = delta.reasoning
    if delta.text:
        out["content"] = delta.text
    if delta.tool_calls:
        out["tool_calls"] = [_tool_call_delta(d) for d in delta.tool_calls]
    return out


def _tool_call_delta(d: ToolCallDelta) -> dict[str, Any]:
    piece: dict[str, Any] = {"index": d.index, "function": {"arguments": d.arguments}}
    if d.id is not None:
        piece["id"] = d.id
        piece["type"] = "function"
    if d.name is not None:
        piece["function"]["name"] = d.name
    if d.extra:
        piece["extra_content"] = dict(d.extra)
    return piece
