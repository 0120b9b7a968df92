"""OpenAI-format answers (what `ChatRun` produces) -> Responses API objects and stream events.

One `ResponseBuilder` follows the answer as chat deltas arrive and knows its output items (reasoning,
message, function calls, in the order they started); the streamed events and the final `response`
object both come from it, so a streamed answer and a non-streamed one have the same shape. Events
follow the official stream: `response.created`, `response.in_progress`, per item
`response.output_item.added` ... `response.output_item.done` (with `response.content_part.*`,
`response.output_text.delta|done`, `response.function_call_arguments.delta|done` and
`response.reasoning_summary_*` inside), then `response.completed` (or `response.incomplete` when the
output limit was hit); a failure mid-answer is one `error` event followed by `response.failed`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from router.responses.schemas import ResponsesRequest

__all__ = ["ResponseBuilder", "response_id", "to_response_events", "to_response_object"]

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
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
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

    def delta(self, delta: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        if delta.get("reasoning_content"):
            events += self._text_delta("reasoning", str(delta["reasoning_content"]))
        if delta.get("content"):
            events += self._text_delta("message", str(delta["content"]))
        for call in delta.get("tool_calls") or []:
            events += self._call_delta(call)
        return events

    def finish(self) -> list[Event]:
        events = self._close_open()
        status = "incomplete" if self.finish_reason == "length" else "completed"
        kind = "response.incomplete" if status == "incomplete" else "response.completed"
        return [*events, self.event(kind, response=self.response(status))]

    def fail(self, error: dict[str, Any]) -> list[Event]:
        self.failed = True
        events = self._close_open()
        code = str(error.get("code") or error.get("type") or "server_error")
        message = str(error.get("message") or "the model failed mid-answer")
        failed = {**self.response("failed"), "error": {"code": code, "message": message}}
        return [*events, self.event("error", code=code, message=message, param=error.get("param")),
                self.event("response.failed", response=failed)]

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

    def _call_delta(self, call: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        item = self._calls.get(int(call.get("index", 0)))
        if item is None:
            function = call.get("function") or {}
            item = _Item("function_call", _item_id("fc"), call_id=str(call.get("id") or _item_id("call")),
                         name=str(function.get("name") or ""))
            if call.get("extra_content"):
                item.extra["extra_content"] = call["extra_content"]
            self._calls[int(call.get("index", 0))] = item
            events += self._add(item)
        arguments = (call.get("function") or {}).get("arguments") or ""
        if arguments:
            item.text += arguments
            events.append(self.event("response.function_call_arguments.delta", item_id=item.id,
                                     output_index=self.items.index(item), delta=arguments))
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


def _usage(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """Responses usage from Chat usage (cached and reasoning tokens included)."""
    if usage is None:
        return None
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    return {"input_tokens": usage.get("prompt_tokens", 0),
            "input_tokens_details": {"cached_tokens": prompt.get("cached_tokens", 0),
                                     "cache_write_tokens": prompt.get("cache_write_tokens", 0)},
            "output_tokens": usage.get("completion_tokens", 0),
            "output_tokens_details": {"reasoning_tokens": completion.get("reasoning_tokens", 0)},
            "total_tokens": usage.get("total_tokens", 0)}


async def to_response_events(chat_events: AsyncIterator[dict[str, Any]],
                             builder: ResponseBuilder) -> AsyncGenerator[tuple[str, Event], None]:
    """Responses stream events (as (name, payload) for the named-event framing) from chat chunks."""
    for event in builder.start():
        yield event["type"], event
    try:
        async for chunk in chat_events:
            if "error" in chunk:
                for event in builder.fail(chunk["error"]):
                    yield event["type"], event
                return
            for choice in chunk.get("choices") or []:
                for event in builder.delta(choice.get("delta") or {}):
                    yield event["type"], event
                builder.finish_reason = choice.get("finish_reason") or builder.finish_reason
            builder.usage = chunk.get("usage") or builder.usage
    finally:  # NOTE: close the run's stream now, not at garbage collection (the client may be gone)
        aclose = getattr(chat_events, "aclose", None)
        if aclose is not None:
            await aclose()
    for event in builder.finish():
        yield event["type"], event


def to_response_object(completion: dict[str, Any], builder: ResponseBuilder) -> dict[str, Any]:
    """The whole `response` object from a `chat.completion`."""
    choice = completion["choices"][0]
    message = choice["message"]
    calls = [{**c, "index": i} for i, c in enumerate(message.get("tool_calls") or [])]
    delta = {"reasoning_content": message.get("reasoning_content"), "content": message.get("content"),
             "tool_calls": calls}
    builder.delta(delta)
    builder.finish_reason = choice.get("finish_reason")
    builder.usage = completion.get("usage")
    events = builder.finish()
    return dict(events[-1]["response"])
