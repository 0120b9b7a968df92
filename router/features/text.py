"""Which text of a chat request the classifier and the quality head see, and how it is cut.

The classified text is the **last user message** (its text parts; images and files count as nothing).
The system prompt is left out on purpose: the training prompts have none, and a long fixed system prompt
("You are a helpful assistant for ACME...") would drown the user's task. Texts longer than the
embedder's 128-token window (about 500 English characters) keep their head and their tail,
because the instruction is usually at one end ("Summarise the following: ..." or "... Summarise the
text above."). Training and serving both call `classifier_text`, so they cut the same way.

Its work is bounded whatever the request holds: only the first and last `SCAN_CHARS` characters are
looked at (a 10 MB prompt would otherwise cost ~1.4 s of `str.split`, which holds the GIL and so
stalls the event loop even from a worker thread). The result differs from cutting the whole text
only when those characters hold fewer than HEAD_CHARS or TAIL_CHARS non-blank characters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from router.schemas import ChatCompletionRequest

__all__ = ["HEAD_CHARS", "SCAN_CHARS", "TAIL_CHARS", "classifier_text", "last_user_text"]

HEAD_CHARS: Final = 360
TAIL_CHARS: Final = 140
SCAN_CHARS: Final = 16 * 1024  # of each end: ample for 360/140 non-blank characters
_JOIN: Final = " ... "


def classifier_text(text: str) -> str:
    """`text` with whitespace collapsed, cut to its first HEAD_CHARS and last TAIL_CHARS characters."""
    if len(text) > 2 * SCAN_CHARS:
        text = text[:SCAN_CHARS] + " " + text[-SCAN_CHARS:]
    flat = " ".join(text.split())
    if len(flat) <= HEAD_CHARS + TAIL_CHARS + len(_JOIN):
        return flat
    return flat[:HEAD_CHARS] + _JOIN + flat[-TAIL_CHARS:]


def last_user_text(request: ChatCompletionRequest) -> str:
    """The text of the last user message, or "" when the request has none with text. Of a message
    with many text parts only enough parts from each end for `classifier_text` are joined."""
    for message in reversed(request.messages):
        if message.role == "user":
            return _bounded_text(message.content)
    return ""


def _bounded_text(content: str | list[dict[str, Any]] | None) -> str:
    if not isinstance(content, list):
        return content or ""
    head, head_parts = _take(content, SCAN_CHARS)
    if head_parts == len(content):
        return "".join(head)
    tail, tail_parts = _take(reversed(content), SCAN_CHARS)
    if head_parts + tail_parts >= len(content):  # the two ends meet: the whole message is short
        return "".join(_take(content, None)[0])
    return "".join(head) + "".join(reversed(tail))


def _take(parts: Iterable[dict[str, Any]], chars: int | None) -> tuple[list[str], int]:
    """Texts of the text parts in `parts`, in order, until they hold at least `chars` characters;
    and how many parts (of any type) were looked at."""
    taken: list[str] = []
    total = seen = 0
    for seen, part in enumerate(parts, start=1):  # noqa: B007  (`seen` is read after the loop)
        if part.get("type") == "text":
            taken.append(str(part.get("text", "")))
            total += len(taken[-1])
            if chars is not None and total >= chars:
                break
    return taken, seen
