"""Gemini's `streamGenerateContent` SSE events as `ChatChunk`s (the reading half of `gemini`).

Each SSE `data:` line is one whole `GenerateContentResponse`. Thought summaries (`thought: true` parts)
are reasoning, not answer text; a function call's `thoughtSignature` rides on the tool call
(`extra_content.google.thought_signature`); calls without ids are named `call_<index>`. Completion tokens
are `candidatesTokenCount + thoughtsTokenCount` (thinking is billed as output). A prompt blocked outright
raises `ContentFiltered`; an answer stopped for safety ends with finish_reason "content_filter".
"""

from __future__ import annotations

import json
from typing import Any

from serving.engine import ChatChunk, ToolCallDelta, Usage
from serving.errors import ContentFiltered, EngineFailed

__all__ = ["StreamState"]

Json = dict[str, Any]

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
           "RECITATION": "content_filter", "BLOCKLIST": "content_filter", "LANGUAGE": "content_filter",
           "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
           "IMAGE_SAFETY": "content_filter", "IMAGE_PROHIBITED_CONTENT": "content_filter",
           "IMAGE_RECITATION": "content_filter"}
_FAILED_FINISH = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "MALFORMED_RESPONSE",
                            "MISSING_THOUGHT_SIGNATURE", "TOO_MANY_TOOL_CALLS"})


class StreamState:
    """What one streamed answer has said so far: tool calls, the finish reason, the latest usage."""

    def __init__(self) -> None:
        self.calls = 0
        self.finish: str | None = None
        self.usage: Usage | None = None

    def feed(self, data: Json) -> list[ChatChunk]:
        if isinstance(data.get("usageMetadata"), dict):
            self.usage = _usage(data["usageMetadata"])
        candidates = data.get("candidates") or []
        if not candidates:
            block = (data.get("promptFeedback") or {}).get("blockReason")
            if block:
                raise ContentFiltered(f"gemini blocked the prompt ({block})")
            return []
        candidate = candidates[0]
        chunks = [c for part in (candidate.get("content") or {}).get("parts") or []
                  if (c := self._part(part)) is not None]
        if candidate.get("finishReason"):
            self.finish = _finish_reason(str(candidate["finishReason"]))
        return chunks

    def _part(self, part: Json) -> ChatChunk | None:
        if part.get("thought"):  # a thought summary: reasoning, not part of the answer
            text = part.get("text")
            return ChatChunk(reasoning=text) if isinstance(text, str) and text else None
        if "functionCall" in part:
            call = part["functionCall"]
            signature = part.get("thoughtSignature")
            # NOTE: Gemini 3 refuses the next turn if this call comes back without its signature.
            extra = {"google": {"thought_signature": signature}} if isinstance(signature, str) and signature \
                else None
            delta = ToolCallDelta(index=self.calls, id=str(call.get("id") or f"call_{self.calls}"),
                                  name=str(call["name"]), arguments=json.dumps(call.get("args") or {}),
                                  extra=extra)
            self.calls += 1
            return ChatChunk(tool_calls=(delta,))
        text = part.get("text")
        return ChatChunk(text=text) if isinstance(text, str) and text else None

    def finish_chunk(self) -> ChatChunk:
        if self.finish is None:
            raise EngineFailed("gemini ended the stream without a finish reason")
        reason = "tool_calls" if self.finish == "stop" and self.calls else self.finish
        return ChatChunk(finish_reason=reason, usage=self.usage)


def _finish_reason(reason: str) -> str:
    if reason in _FAILED_FINISH:
        raise EngineFailed(f"gemini stopped with {reason}")
    return _FINISH.get(reason, "stop")  # OTHER and reasons added later


def _usage(meta: Json) -> Usage:
    """`promptTokenCount` includes `cachedContentTokenCount`; thinking is billed as output."""
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    output = int(meta.get("candidatesTokenCount") or 0) + thoughts
    return Usage(prompt_tokens=int(meta.get("promptTokenCount") or 0), completion_tokens=output,
                 cached_tokens=int(meta.get("cachedContentTokenCount") or 0), reasoning_tokens=thoughts)
