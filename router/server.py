"""How the router's HTTP server runs: uvicorn with limits a production operator would set.

uvicorn has no limit on how long a client may take to send its request headers, so a client that
drips them (slowloris) holds a connection forever; and by default it takes any number of connections.
`ServerLimits` bounds both, and the idle time of keep-alive connections:

* `header_timeout_s` (10 s, as Go's `ReadHeaderTimeout` is commonly set; nginx waits 60 s): a new
  connection, or the next request on a kept-alive one once its first byte arrived, must deliver its
  whole header block in time, else the connection is closed. The body has its own limit
  (`router.edge.EdgeLimits.body_timeout_s`).
* `keep_alive_s` (30 s): how long an idle kept-alive connection stays open. Behind a load balancer
  set it above the balancer's idle timeout (AWS ALB: 60 s → 65 s) so the balancer closes first.
* `max_connections` (2048): open connections and running requests together; over it uvicorn answers
  503 at once. Must stay below the process's open-file limit (raised here when the hard limit allows).
* `max_header_bytes`: the h11 parser's limit (httptools/llhttp has its own fixed 80 KiB limit).
* `graceful_shutdown_s` (30 s): how long running requests may finish on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from router.memory import pin_mmap_threshold

__all__ = ["DEFAULT_SERVER_LIMITS", "HeaderTimeoutProtocol", "ServerLimits", "run_server", "server_config"]

logger = logging.getLogger(__name__)

_FDS_BESIDES_CONNECTIONS = 256  # files, upstream connections, the database, Ray


@dataclass(frozen=True)
class ServerLimits:
    """See the module docstring."""

    header_timeout_s: float = 10.0
    keep_alive_s: int = 30
    max_connections: int = 2048
    max_header_bytes: int = 64 * 1024
    graceful_shutdown_s: int = 30


DEFAULT_SERVER_LIMITS = ServerLimits()


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request headers do not arrive in time."""

    header_timeout_s: float = DEFAULT_SERVER_LIMITS.header_timeout_s

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        self._arm_header_timer()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)
        # uvicorn 0.55 cancels its keep-alive timer only when the connection ended cleanly: after a reset
        # (a client that stopped reading, then left) the timer kept this protocol, its request cycle and
        # everything they hold alive for the whole keep-alive time (30 s, ~1 MB per connection).
        self._unset_keepalive_if_required()

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            logger.info("closing a connection whose request headers took over %g s", self.header_timeout_s)
            self.transport.close()


def _protocol(limits: ServerLimits) -> type[HeaderTimeoutProtocol]:
    return type("LimitedHeaderTimeoutProtocol", (HeaderTimeoutProtocol,),
                {"header_timeout_s": limits.header_timeout_s})


def _connection_cap(wanted: int) -> int:
    """`wanted`, after raising the soft open-file limit toward it; lower if the hard limit is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + _FDS_BESIDES_CONNECTIONS
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < needed:
        capped = max(16, soft - _FDS_BESIDES_CONNECTIONS)
        logger.warning("open-file limit %d: connection cap lowered from %d to %d", soft, wanted, capped)
        return capped
    return wanted


def server_config(app: Any, host: str, port: int, limits: ServerLimits = DEFAULT_SERVER_LIMITS,
                  **kwargs: Any) -> uvicorn.Config:
    """The uvicorn configuration for `app` with `limits` (extra keyword arguments go to uvicorn)."""
    return uvicorn.Config(
        app, host=host, port=port, http=_protocol(limits), timeout_keep_alive=limits.keep_alive_s,
        limit_concurrency=_connection_cap(limits.max_connections),
        h11_max_incomplete_event_size=limits.max_header_bytes,
        timeout_graceful_shutdown=limits.graceful_shutdown_s,
        **{"log_level": "warning", "access_log": False, **kwargs})


def run_server(app: Any, host: str, port: int, limits: ServerLimits = DEFAULT_SERVER_LIMITS) -> None:
    """Serve `app` until SIGINT/SIGTERM (with glibc's mmap threshold fixed: `router.memory`)."""
    pin_mmap_threshold()
    uvicorn.Server(server_config(app, host, port, limits)).run()
