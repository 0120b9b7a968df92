"""What a streamed chat run tells its client, typed: the chat service yields these, and each dialect's
one formatter (`router/chat/stream.py`, `router/anthropic/stream.py`, `router/responses/stream.py`)
turns them into its own SSE frames (`router.sse.sse_stream` frames and ends the stream).

    RunStarted   first, once: the answer's id, creation time and model
    Delta        one engine chunk with something to say: text, reasoning, tool-call pieces, and/or the
                 choice's finish reason (OpenAI's words: stop, length, tool_calls, content_filter)
    then exactly one of
    RunDone      the answer ended: usage (None if the engine reported none), cost, last finish reason
    RunError     the answer failed mid-stream: status and OpenAI type/code; each dialect words it

NOTE: this is the streaming hot path: one small slotted object per engine chunk, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from serving.engine import ToolCallDelta, Usage
from serving.errors import StellwerkError

__all__ = ["Delta", "RunDone", "RunError", "RunEvent", "RunStarted"]


@dataclass(frozen=True, slots=True)
class RunStarted:
    """The answer began: its id (`chatcmpl-...`), creation time (Unix seconds) and model."""

    id: str
    created: int
    model: str


@dataclass(frozen=True, slots=True)
class Delta:
    """One engine chunk's new content; at least one field is set."""

    text: str = ""
    reasoning: str = ""  # thinking text, where the model returns it
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RunDone:
    """The answer ended normally. `cost` is None without usage; `finish_reason` is the last one sent."""

    usage: Usage | None
    cost: float | None
    currency: str
    finish_reason: str | None


@dataclass(frozen=True, slots=True)
class RunError:
    """The answer failed after its first byte (or the stream could not go on): the error's HTTP status,
    OpenAI error type and code, message and param, for each dialect to word in its own terms."""

    status: int
    type: str
    code: str | None
    message: str
    param: str | None = None

    @classmethod
    def of(cls, error: StellwerkError) -> RunError:
        return cls(error.status_code, error.error_type, error.code, error.message, error.param)


RunEvent = RunStarted | Delta | RunDone | RunError
