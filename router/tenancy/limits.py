"""Per-tenant rate limits: requests and tokens per minute, over a sliding 60-second window.

Admission counts a request and its estimated tokens (prompt + requested output) before it runs; when
the answer's real usage is known, `settle` replaces the estimate. A request that would exceed a limit
gets 429 with Retry-After: the seconds until enough of the window has passed. The window lives in this
router process: with several routers, each enforces the limit on its own share of the traffic.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from router.tenancy.config import Limits
from serving.errors import RateLimited

__all__ = ["Admission", "RateLimiter"]

WINDOW_S = 60.0


@dataclass
class Admission:
    """One admitted request's place in its tenant's token window (for `settle`)."""

    tenant: str
    at: float
    tokens: int


class _Window:
    def __init__(self) -> None:
        self.requests: deque[float] = deque()
        self.tokens: deque[Admission] = deque()

    def expire(self, now: float) -> None:
        while self.requests and self.requests[0] <= now - WINDOW_S:
            self.requests.popleft()
        while self.tokens and self.tokens[0].at <= now - WINDOW_S:
            self.tokens.popleft()

    def token_sum(self) -> int:
        return sum(a.tokens for a in self.tokens)


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def admit(self, tenant: str, limits: Limits, tokens: int) -> Admission:
        """Count the request, or raise `RateLimited` (429) saying which limit and when to retry."""
        now = self._clock()
        with self._lock:
            window = self._windows.setdefault(tenant, _Window())
            window.expire(now)
            rpm, tpm = limits.requests_per_minute, limits.tokens_per_minute
            if rpm is not None and len(window.requests) >= rpm:
                wait = window.requests[0] + WINDOW_S - now
                raise RateLimited(f"tenant {tenant!r} is over its limit of {rpm} requests per minute; "
                                  f"retry in {math.ceil(wait)} s", retry_after_s=wait)
            if tpm is not None:
                used = window.token_sum()
                if tokens > tpm:
                    raise RateLimited(f"the request needs about {tokens} tokens, more than tenant "
                                      f"{tenant!r}'s limit of {tpm} tokens per minute",
                                      retry_after_s=WINDOW_S)
                if used + tokens > tpm:
                    wait = _wait_for(window, used + tokens - tpm, now)
                    raise RateLimited(f"tenant {tenant!r} is over its limit of {tpm} tokens per minute "
                                      f"({used} used in the last minute); retry in {math.ceil(wait)} s",
                                      retry_after_s=wait)
            admission = Admission(tenant, now, tokens)
            window.requests.append(now)
            window.tokens.append(admission)
            return admission

    def settle(self, admission: Admission, tokens: int) -> None:
        """Replace the admission's estimate with the tokens the request really used."""
        with self._lock:
            admission.tokens = tokens


def _wait_for(window: _Window, excess: int, now: float) -> float:
    """Seconds until the oldest admissions holding `excess` tokens leave the window."""
    freed = 0
    for a in window.tokens:
        freed += a.tokens
        if freed >= excess:
            return max(a.at + WINDOW_S - now, 0.0)
    return WINDOW_S
