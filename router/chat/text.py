"""Text from engines made safe to encode: lone UTF-16 surrogates become U+FFFD.

A provider (or a proxy in front of it) that splits a surrogate pair across two JSON strings sends
`"\\ud83d"` and `"\\ude00"` separately; `json.loads` turns each into a lone surrogate, which UTF-8
cannot encode, so the answer could not be written. We replace each with U+FFFD REPLACEMENT CHARACTER,
as a UTF-8 decoder does with bytes it cannot read: the client gets the rest of the answer intact.
"""

from __future__ import annotations

import dataclasses
import re

from serving.engine import ChatChunk, ToolCallDelta

__all__ = ["REPLACEMENT", "clean_chunk", "clean_text", "lone_surrogate_path"]

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (the same object when there is none)."""
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def _clean_optional(text: str | None) -> str | None:
    return None if text is None else clean_text(text)


def _clean_call(d: ToolCallDelta) -> ToolCallDelta:
    # dataclasses.replace keeps every other field (e.g. a provider's opaque `extra` for the next turn).
    return dataclasses.replace(d, id=_clean_optional(d.id), name=_clean_optional(d.name),
                               arguments=clean_text(d.arguments))


def clean_chunk(chunk: ChatChunk) -> ChatChunk:
    """`chunk` with encodable text everywhere a client will see it (the same object if it was)."""
    if chunk.text.isascii() and chunk.reasoning.isascii() and not chunk.tool_calls \
            and chunk.role in (None, "assistant") \
            and (chunk.finish_reason is None or chunk.finish_reason.isascii()):
        return chunk
    return dataclasses.replace(
        chunk, text=clean_text(chunk.text), reasoning=clean_text(chunk.reasoning),
        role=_clean_optional(chunk.role),
        finish_reason=_clean_optional(chunk.finish_reason),
        tool_calls=tuple(_clean_call(d) for d in chunk.tool_calls))


def lone_surrogate_path(value: object, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """Where in a parsed JSON value the first string with a lone surrogate is (keys included), or None."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _SURROGATE.search(key):
                return (*path, key)
            found = lone_surrogate_path(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = lone_surrogate_path(item, (*path, str(i)))
            if found is not None:
                return found
    return None
