"""A lean HTTP/1.1 client for the load generator: raw asyncio connections, httptools' C parser.

Why not httpx or aiohttp: at 1,000 requests/s on a shared 2-core machine the client's own CPU per
request must be small next to the gateway's, or the generator becomes the bottleneck it is meant to
measure. Each request is one pre-encoded byte string; connections are kept alive and reused; the parser
(httptools, shipped with `uvicorn[standard]`) reports the first body byte and the end of the message.

One connection carries one request at a time (no pipelining); the pool opens more as needed, up to a cap.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httptools

__all__ = ["ConnectionPool", "Reply", "encode_request"]


@dataclass(frozen=True)
class Reply:
    """One answer: status, body and when (perf_counter seconds) its first body byte and its end came."""

    status: int
    body: bytes
    first_byte_at: float
    done_at: float


def encode_request(url: str, body: dict[str, Any]) -> tuple[str, int, bytes]:
    """(host, port, the bytes of a keep-alive `POST url` with a JSON body)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    payload = json.dumps(body).encode()
    head = (f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer fake-key\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n\r\n")
    return host, port, head.encode() + payload


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `request` sends bytes and waits for the whole response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Reply] | None = None
        self._body: list[bytes] = []
        self._first_byte_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"bad HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionError("the server closed the connection"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        if not self._body:
            self._first_byte_at = time.perf_counter()
        self._body.append(body)

    def on_message_complete(self) -> None:
        done = time.perf_counter()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            first = self._first_byte_at if self._body else done
            waiter.set_result(Reply(self._parser.get_status_code(), b"".join(self._body), first, done))
        if not self._parser.should_keep_alive():
            self.close()

    async def request(self, raw: bytes, timeout_s: float) -> Reply:
        assert self.transport is not None and self._waiter is None
        self._body = []
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        try:
            return await asyncio.wait_for(self._waiter, timeout_s)
        except TimeoutError:
            self.close()  # the answer may still come: this connection cannot be reused
            raise

    def _fail(self, exc: BaseException) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class ConnectionPool:
    """Keep-alive connections to one host:port, at most `max_connections` open at once."""

    def __init__(self, host: str, port: int, max_connections: int = 1024) -> None:
        self._host, self._port = host, port
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def send(self, raw: bytes, timeout_s: float = 30.0) -> Reply:
        """Send one request on an idle (or new) connection and return its reply."""
        async with self._slots:
            conn = await self._connection()
            try:
                reply = await conn.request(raw, timeout_s)
            except BaseException:
                conn.close()
                raise
            if not conn.closed:
                self._idle.append(conn)
            return reply

    async def _connection(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self._host, self._port)
        return conn

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
