"""The Responses API's answers: the stream's formatter (`ResponsesFormat`, from the chat service's typed
run events) and the whole `response` object (from an OpenAI `chat.completion`).

One `ResponseBuilder` follows the answer as deltas arrive and knows its output items (reasoning,
message, function calls, in the order they started); the streamed events and the final `response`
object both come from it, so a streamed answer and a non-streamed one have the same shape. Events
follow the official stream: `response.created`, `response.in_progress`, per item
`response.output_item.added` ... `response.output_item.done` (with `response.content_part.*`,
`response.output_text.delta|done`, `response.function_call_arguments.delta|done` and
`response.reasoning_summary_*` inside), then `response.completed` (or `response.incomplete` when the
output limit was hit); a failure mid-answer is one `error` event (our code) followed by `response.failed`
(whose `error.code` is one of the Responses API's own: `rate_limit_exceeded`, `invalid_prompt` or
`server_error`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from router.responses.schemas import ResponsesRequest
from router.run_events import Delta, RunDone, RunError, RunEvent, RunStarted
from router.sse import named_sse_event
from serving.engine import ToolCallDelta, Usage

__all__ = ["ResponseBuilder", "ResponsesFormat", "response_id", "to_response_object"]

Event = dict[str, Any]


def response_id() -> str:
    return f"resp_{uuid.uuid4().hex}"


def _item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


@dataclass
class _Item:
    """One output item while it streams: kind 'reasoning', 'message' or 'function_call'."""

    kind: str
    id: str
    text: str = ""
    call_id: str = ""
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    done: bool = False

    def body(self) -> dict[str, Any]:
        status = "completed" if self.done else "in_progress"
        if self.kind == "reasoning":
            summary = [{"type": "summary_text", "text": self.text}] if self.done else []
            return {"type": "reasoning", "id": self.id, "summary": summary}
        if self.kind == "message":
            content = [_text_part(self.text)] if self.done else []
            return {"type": "message", "id": self.id, "status": status, "role": "assistant",
                    "content": content}
        return {"type": "function_call", "id": self.id, "call_id": self.call_id, "name": self.name,
                "arguments": self.text, "status": status, **self.extra}


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


class ResponseBuilder:
    """The response's items and events; feed it chat deltas, then `finish`."""

    def __init__(self, req: ResponsesRequest, model: str, resp_id: str) -> None:
        self._req = req
        self.model = model
        self.id = resp_id
        self.created_at = int(time.time())
        self.items: list[_Item] = []
        self._calls: dict[int, _Item] = {}  # chat tool-call index -> item
        self._seq = 0
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.ended = False  # response.completed/incomplete/failed went out
        self.failed = False
        self.stored = False  # whether the answer is kept for previous_response_id

    # --- events -----------------------------------------------------------------------------------

    def event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def start(self) -> list[Event]:
        return [self.event("response.created", response=self.response("in_progress")),
                self.event("response.in_progress", response=self.response("in_progress"))]

    def delta(self, delta: Delta) -> list[Event]:
        events: list[Event] = []
        if delta.reasoning:
            events += self._text_delta("reasoning", delta.reasoning)
        if delta.text:
            events += self._text_delta("message", delta.text)
        for call in delta.tool_calls:
            events += self._call_delta(call)
        return events

    def finish(self) -> list[Event]:
        self.ended = True
        events = self._close_open()
        status = "incomplete" if self.finish_reason == "length" else "completed"
        kind = "response.incomplete" if status == "incomplete" else "response.completed"
        return [*events, self.event(kind, response=self.response(status))]

    def fail(self, error: RunError) -> list[Event]:
        """The `error` event and, unless the response already ended, `response.failed`."""
        self.failed = True
        message = error.message or "the model failed mid-answer"
        if self.ended:  # e.g. the ledger could not record an answer that went out whole
            return [self._error_event(error, message)]
        self.ended = True
        events = self._close_open()
        reason = {"code": _response_error_code(error), "message": message}
        failed = {**self.response("failed"), "error": reason}
        return [*events, self._error_event(error, message), self.event("response.failed", response=failed)]

    def _error_event(self, error: RunError, message: str) -> Event:
        return self.event("error", code=error.code or error.type, message=message, param=error.param)

    def _add(self, item: _Item) -> list[Event]:
        events = self._close_open()
        self.items.append(item)
        index = len(self.items) - 1
        events.append(self.event("response.output_item.added", output_index=index, item=item.body()))
        if item.kind == "message":
            events.append(self.event("response.content_part.added", item_id=item.id, output_index=index,
                                     content_index=0, part=_text_part("")))
        if item.kind == "reasoning":
            events.append(self.event("response.reasoning_summary_part.added", item_id=item.id,
                                     output_index=index, summary_index=0,
                                     part={"type": "summary_text", "text": ""}))
        return events

    def _text_delta(self, kind: str, text: str) -> list[Event]:
        last = self.items[-1] if self.items else None
        item = last if last is not None and last.kind == kind and not last.done else None
        events: list[Event] = []
        if item is None:
            item = _Item(kind, _item_id("msg" if kind == "message" else "rs"))
            events = self._add(item)
        item.text += text
        index = self.items.index(item)
        if kind == "message":
            events.append(self.event("response.output_text.delta", item_id=item.id, output_index=index,
                                     content_index=0, delta=text, logprobs=[]))
        else:
            events.append(self.event("response.reasoning_summary_text.delta", item_id=item.id,
                                     output_index=index, summary_index=0, delta=text))
        return events

    def _call_delta(self, call: ToolCallDelta) -> list[Event]:
        events: list[Event] = []
        item = self._calls.get(call.index)
        if item is None:
            item = _Item("function_call", _item_id("fc"), call_id=call.id or _item_id("call"),
                         name=call.name or "")
            if call.extra:
                item.extra["extra_content"] = dict(call.extra)
            self._calls[call.index] = item
            events += self._add(item)
        if call.arguments:
            item.text += call.arguments
            events.append(self.event("response.function_call_arguments.delta", item_id=item.id,
                                     output_index=self.items.index(item), delta=call.arguments))
        return events

    def _close_open(self) -> list[Event]:
        events: list[Event] = []
        for index, item in enumerate(self.items):
            if item.done:
                continue
            item.done = True
            if item.kind == "message":
                events += [self.event("response.output_text.done", item_id=item.id, output_index=index,
                                      content_index=0, text=item.text, logprobs=[]),
                           self.event("response.content_part.done", item_id=item.id, output_index=index,
                                      content_index=0, part=_text_part(item.text))]
            elif item.kind == "reasoning":
                part = {"type": "summary_text", "text": item.text}
                events += [self.event("response.reasoning_summary_text.done", item_id=item.id,
                                      output_index=index, summary_index=0, text=item.text),
                           self.event("response.reasoning_summary_part.done", item_id=item.id,
                                      output_index=index, summary_index=0, part=part)]
            else:
                item.text = item.text or "{}"
                events.append(self.event("response.function_call_arguments.done", item_id=item.id,
                                         output_index=index, name=item.name, arguments=item.text))
            events.append(self.event("response.output_item.done", output_index=index, item=item.body()))
        return events

    def assistant_message(self) -> dict[str, Any]:
        """The answer as one Chat assistant message (what a stored conversation keeps)."""
        text = "".join(i.text for i in self.items if i.kind == "message")
        calls = [{"id": i.call_id, "type": "function", "function": {"name": i.name, "arguments": i.text},
                  **({"extra_content": i.extra["extra_content"]} if i.extra else {})}
                 for i in self.items if i.kind == "function_call"]
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = calls
        return message

    # --- the response object ------------------------------------------------------------------------

    def response(self, status: str) -> dict[str, Any]:
        req = self._req
        incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
        return {
            "id": self.id, "object": "response", "created_at": self.created_at, "status": status,
            "model": self.model, "output": [i.body() for i in self.items] if status != "in_progress" else [],
            "usage": _usage(self.usage) if status != "in_progress" else None,
            "error": None, "incomplete_details": incomplete, "instructions": req.instructions,
            "max_output_tokens": req.max_output_tokens,
            "parallel_tool_calls": req.parallel_tool_calls is not False,
            "previous_response_id": req.previous_response_id, "reasoning": req.reasoning,
            "store": self.stored,
            "temperature": req.temperature, "top_p": req.top_p,
            "text": req.text or {"format": {"type": "text"}},
            "tool_choice": req.tool_choice or "auto", "tools": req.tools or [], "truncation": "disabled",
            "metadata": req.metadata or {}, "user": req.user,
        }


def _usage(u: Usage | None) -> dict[str, Any] | None:
    """Responses usage from ours (cached and reasoning tokens included)."""
    if u is None:
        return None
    return {"input_tokens": u.prompt_tokens,
            "input_tokens_details": {"cached_tokens": u.cached_tokens,
                                     "cache_write_tokens": u.cache_write_tokens},
            "output_tokens": u.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
            "total_tokens": u.total_tokens}


def _response_error_code(error: RunError) -> str:
    """The Responses API's word for why a response failed (its `ResponseError.code`)."""
    if error.status == 429:
        return "rate_limit_exceeded"
    return "invalid_prompt" if 400 <= error.status < 500 else "server_error"


class ResponsesFormat:
    """The Responses API's named stream events, made by a `ResponseBuilder` (whose state the route
    reads afterwards: whether it failed, the assistant message to store)."""

    def __init__(self, builder: ResponseBuilder) -> None:
        self.builder = builder

    def frames(self, event: RunEvent) -> bytes:
        builder = self.builder
        if isinstance(event, Delta):
            return _framed(builder.delta(event))
        if isinstance(event, RunStarted):
            return _framed(builder.start())
        if isinstance(event, RunDone):
            builder.usage, builder.finish_reason = event.usage, event.finish_reason
            return _framed(builder.finish())
        return self.failure(event)

    def failure(self, error: RunError) -> bytes:
        return _framed(self.builder.fail(error))

    def end(self) -> bytes:
        return b""


def _framed(events: list[Event]) -> bytes:
    return b"".join(named_sse_event(event["type"], event) for event in events)


def to_response_object(completion: dict[str, Any], builder: ResponseBuilder,
                       usage: Usage | None) -> dict[str, Any]:
    """The whole `response` object from a `chat.completion` and the run's usage."""
    choice = completion["choices"][0]
    message = choice["message"]
    calls = tuple(ToolCallDelta(i, id=c.get("id"), name=c["function"].get("name"),
                                arguments=c["function"].get("arguments") or "", extra=c.get("extra_content"))
                  for i, c in enumerate(message.get("tool_calls") or []))
    builder.delta(Delta(message.get("content") or "", message.get("reasoning_content") or "", calls))
    builder.finish_reason = choice.get("finish_reason")
    builder.usage = usage
    events = builder.finish()
    return dict(events[-1]["response"])
