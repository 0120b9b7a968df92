"""One parser for OpenAI `chat.completion.chunk` objects, used by every engine that speaks them: remote
OpenAI-compatible providers and the local vLLM replicas (`serving.ray_engine`), so text, tool-call
pieces, finish reasons and usage are read the same way everywhere.

Malformed data raises `ValueError` (the engine's fault: callers map it to `EngineFailed`); a failed
finish reason raises `EngineFailed`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from serving.engine import ChatChunk, ToolCallDelta, Usage
from serving.errors import EngineFailed

__all__ = ["chunk_of"]

logger = logging.getLogger(__name__)

# OpenAI's finish reasons, plus the words some compatible servers use for the same thing.
_FINISH = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls", "content_filter": "content_filter",
    "function_call": "tool_calls", "eos_token": "stop", "eos": "stop", "stop_sequence": "stop",
    "end_turn": "stop", "max_tokens": "length", "model_length": "length", "tool_use": "tool_calls",
}
_FAILED_FINISH = frozenset({"error", "abort"})


def chunk_of(data: Mapping[str, Any]) -> ChatChunk | None:
    """Our chunk for one `chat.completion.chunk` (None when it carries nothing we keep)."""
    usage = _usage(data.get("usage"))
    choices = data.get("choices") or []
    if not isinstance(choices, list):
        raise ValueError("'choices' is not a list")
    choice = next((c for c in map(_object, choices) if c.get("index", 0) == 0), None)
    if choice is None:  # the usage chunk, or Azure's prompt_filter_results chunk
        return ChatChunk(usage=usage) if usage else None
    delta = _object(choice.get("delta") or {})
    # A structured-output refusal is the model's answer, so it reaches the client as text.
    text = (_optional_str(delta.get("content")) or "") + (_optional_str(delta.get("refusal")) or "")
    calls = tuple(_tool_call_delta(_object(raw), i) for i, raw in enumerate(delta.get("tool_calls") or []))
    return ChatChunk(text=text, tool_calls=calls, usage=usage, role=_optional_str(delta.get("role")),
                     finish_reason=_finish_reason(choice.get("finish_reason")))


def _tool_call_delta(raw: Mapping[str, Any], position: int) -> ToolCallDelta:
    function = _object(raw.get("function") or {})
    return ToolCallDelta(
        index=_index(raw.get("index", position)),
        id=_optional_str(raw.get("id")) or None,
        name=_optional_str(function.get("name")) or None,
        arguments=_optional_str(function.get("arguments")) or "",
    )


def _index(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"a tool call's index is not an integer: {type(value).__name__}")
    return value


def _finish_reason(raw: object) -> str | None:
    if raw is None:
        return None
    reason = str(raw)
    if reason in _FAILED_FINISH:
        raise EngineFailed(f"the upstream server ended the answer with finish_reason {reason!r}")
    if reason not in _FINISH:
        logger.debug("unknown finish_reason %r read as 'stop'", reason)
    return _FINISH.get(reason, "stop")


def _usage(raw: object) -> Usage | None:
    """Usage with OpenAI's details: cached (and cache-written) prompt tokens, reasoning tokens."""
    if not isinstance(raw, Mapping):
        return None
    prompt = _object(raw.get("prompt_tokens_details") or {})
    completion = _object(raw.get("completion_tokens_details") or {})
    return Usage(prompt_tokens=int(raw.get("prompt_tokens") or 0),
                 completion_tokens=int(raw.get("completion_tokens") or 0),
                 cached_tokens=int(prompt.get("cached_tokens") or 0),
                 cache_write_tokens=int(prompt.get("cache_write_tokens") or 0),
                 reasoning_tokens=int(completion.get("reasoning_tokens") or 0))


def _object(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _optional_str(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value
