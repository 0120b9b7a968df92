"""Session affinity: the requests of one conversation stay on the model first chosen for it.

Staying keeps the provider's prompt cache and the local engine's prefix (KV) cache warm, and keeps a
conversation's voice consistent. A conversation is named by the `x-stellwerk-session` header when the
client sends one; otherwise by a hash of the conversation's opening (system text and first user
message), which every later turn repeats. Without a header, only continuations (requests that already
carry an assistant turn) look the session up, so two new conversations that open with the same words do
not bind each other; they may share a model later, which is harmless. Keys are scoped by tenant and are
digests: no prompt text is kept. The routing service moves a session when policy, health, load or the
frontier budget rules its model out (reason code `session` when it stays).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from router.routing.config import SessionConfig
from router.schemas import ChatCompletionRequest

__all__ = ["SessionAffinity", "SessionKey", "session_key"]

_MAX_HEADER_CHARS = 256


@dataclass(frozen=True)
class SessionKey:
    digest: str
    continuation: bool  # look up (not only store): an explicit session, or a later turn

    def short(self) -> str:
        return self.digest[:12]


def session_key(request: ChatCompletionRequest, tenant: str, header: str | None) -> SessionKey | None:
    """The request's session key, or None when it has neither a header nor a user message."""
    if header:
        raw = f"h\0{tenant}\0{header[:_MAX_HEADER_CHARS]}"
        return SessionKey(hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest(), True)
    digest = hashlib.sha256(f"c\0{tenant}".encode("utf-8", "replace"))
    for message in request.messages:
        if message.role == "user":
            digest.update(b"\0u\0" + message.text().encode("utf-8", "replace"))
            return SessionKey(digest.hexdigest(), _has_assistant_turn(request))
        if message.role in ("system", "developer"):
            digest.update(b"\0s\0" + message.text().encode("utf-8", "replace"))
    return None


def _has_assistant_turn(request: ChatCompletionRequest) -> bool:
    return any(m.role == "assistant" for m in request.messages)


@dataclass
class _Entry:
    model: str
    expires: float


class SessionAffinity:
    """Session key → model, with a TTL from last use and a bound on the number of sessions (LRU)."""

    def __init__(self, config: SessionConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._sessions: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def configure(self, config: SessionConfig) -> None:
        with self._lock:
            self._config = config

    @property
    def enabled(self) -> bool:
        return self._config.enabled

    def model_for(self, key: SessionKey) -> str | None:
        """The session's model, if it has one that has not expired."""
        if not key.continuation or not self._config.enabled:
            return None
        with self._lock:
            entry = self._sessions.get(key.digest)
            if entry is None:
                return None
            if entry.expires <= self._clock():
                del self._sessions[key.digest]
                return None
            return entry.model

    def remember(self, key: SessionKey, model: str) -> None:
        """Bind (or re-bind) the session to `model` and refresh its TTL."""
        if not self._config.enabled:
            return
        with self._lock:
            self._sessions[key.digest] = _Entry(model, self._clock() + self._config.ttl_s)
            self._sessions.move_to_end(key.digest)
            while len(self._sessions) > self._config.max_sessions:
                self._sessions.popitem(last=False)

    def __len__(self) -> int:
        return len(self._sessions)
