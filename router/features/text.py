"""Which text of a chat request the classifier and the quality head see, and how it is cut.

The classified text is the **last user message** (its text parts; images and files count as nothing).
The system prompt is left out on purpose: the training prompts have none, and a long fixed system prompt
("You are a helpful assistant for ACME...") would drown the user's task. Texts longer than the
embedder's 128-token window (about 500 English characters) keep their head and their tail,
because the instruction is usually at one end ("Summarise the following: ..." or "... Summarise the
text above."). Training and serving both call `classifier_text`, so they cut the same way.
"""

from __future__ import annotations

from typing import Final

from router.schemas import ChatCompletionRequest

__all__ = ["HEAD_CHARS", "TAIL_CHARS", "classifier_text", "last_user_text"]

HEAD_CHARS: Final = 360
TAIL_CHARS: Final = 140
_JOIN: Final = " ... "


def classifier_text(text: str) -> str:
    """`text` with whitespace collapsed, cut to its first HEAD_CHARS and last TAIL_CHARS characters."""
    flat = " ".join(text.split())
    if len(flat) <= HEAD_CHARS + TAIL_CHARS + len(_JOIN):
        return flat
    return flat[:HEAD_CHARS] + _JOIN + flat[-TAIL_CHARS:]


def last_user_text(request: ChatCompletionRequest) -> str:
    """The text of the last user message, or "" when the request has none with text."""
    for message in reversed(request.messages):
        if message.role == "user":
            return message.text()
    return ""
