"""`LeanTransport`: the HTTP/1.1 transport under the remote adapters' `httpx.AsyncClient`.

Why not httpx's default (httpcore over anyio over h11): in the router-overhead profile it took ~30 % of
the router's CPU per request, most of it in anyio's stream wrappers, h11's pure-Python parser and a scan
of the connection pool on every request. This transport keeps httpx's client API (requests, responses,
content decoding, exceptions) and replaces only the wire: asyncio protocols, httptools' C parser
(uvicorn's), and per-origin stacks of idle keep-alive connections (O(1) to take one).

What it does: HTTP/1.1 over TCP or TLS; request bodies sent whole with a `Content-Length`; response
bodies by `Content-Length`, chunked, or up to the close; keep-alive reuse of a connection whose answer
was read to its end (one left early is closed); the connect / read / pool timeouts of the request's
`timeout` extension, raised as httpx's own exceptions; at most `max_connections` open at once.
What it does not: HTTP/2, `Expect: 100-continue`, HEAD requests (the adapters send POST and GET only),
proxies (with proxy variables set, `serving.remote.registry` uses httpx's own transport instead).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import httptools
import httpx

__all__ = ["DEFAULT_LIMITS", "LeanTransport"]

# Every connection the pool may open may also be kept: with fewer kept alive than opened, a burst over
# the keep-alive count reconnects (TCP + TLS) on every request (seen in the overhead profile). Idle ones
# are dropped after 4 s, before the common server-side keep-alive timeout of 5 s (uvicorn, Node): a
# request sent on a connection the server is closing at that moment fails, and under load the loop may
# learn of the close late.
DEFAULT_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=4)
_HIGH_WATER = 256 * 1024  # buffered response bytes before the socket's reading is paused
_Origin = tuple[bytes, bytes, int]


class LeanTransport(httpx.AsyncBaseTransport):
    """See the module docstring. One instance serves any number of origins."""

    def __init__(self, limits: httpx.Limits = DEFAULT_LIMITS,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_connections = limits.max_connections or 1_000_000
        self._keep = limits.max_keepalive_connections or 0
        self._expiry = limits.keepalive_expiry if limits.keepalive_expiry is not None else float("inf")
        self._ssl = ssl_context
        self._idle: dict[_Origin, deque[_Connection]] = {}
        self._idle_count = 0
        self._slots: asyncio.Semaphore | None = None
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        body = request.content if _has_content(request) else await request.aread()
        origin = (request.url.raw_scheme, request.url.raw_host, request.url.port or _default_port(request))
        slots = self._slots or self._make_slots()
        await _acquire(slots, timeouts.get("pool"), request)
        conn: _Connection | None = None
        try:
            conn = self._take(origin) or await self._connect(origin, timeouts.get("connect"), request)
            conn.send(_head(request, body), body)
            status, headers = await conn.response_head(timeouts.get("read"), request)
        except BaseException:
            if conn is not None:
                conn.close()
            slots.release()
            raise
        stream = _BodyStream(conn, self, origin, slots, timeouts.get("read"), request)
        return httpx.Response(status, headers=headers, stream=stream,
                              extensions={"http_version": b"HTTP/1.1"})

    async def aclose(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        self._idle_count = 0

    # --- the pool --------------------------------------------------------------------------------

    def _make_slots(self) -> asyncio.Semaphore:
        # NOTE: made on first use, inside the event loop that will use it.
        self._slots = asyncio.Semaphore(self._max_connections)
        return self._slots

    def _take(self, origin: _Origin) -> _Connection | None:
        conns = self._idle.get(origin)
        now = time.monotonic()
        while conns:
            conn = conns.pop()
            self._idle_count -= 1
            if conn.usable and now - conn.idle_since < self._expiry:
                return conn
            conn.close()
        return None

    def _give_back(self, origin: _Origin, conn: _Connection) -> None:
        if self._closed or not conn.usable or self._idle_count >= self._keep:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.setdefault(origin, deque()).append(conn)
        self._idle_count += 1

    async def _connect(self, origin: _Origin, timeout_s: float | None, request: httpx.Request) -> _Connection:
        scheme, host, port = origin
        tls = scheme == b"https"
        if tls and self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        loop = asyncio.get_running_loop()
        name = host.decode("ascii")
        try:
            async with asyncio.timeout(timeout_s):
                transport, conn = await loop.create_connection(
                    _Connection, name, port, ssl=self._ssl if tls else None,
                    server_hostname=name if tls else None)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {name}:{port} timed out", request=request) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"cannot connect to {name}:{port}: {exc}", request=request) from None
        conn.connection_made(transport)  # NOTE: uvloop may call it only after create_connection returns
        return conn


def _has_content(request: httpx.Request) -> bool:
    return hasattr(request, "_content")


def _default_port(request: httpx.Request) -> int:
    return 443 if request.url.raw_scheme == b"https" else 80


def _head(request: httpx.Request, body: bytes) -> bytes:
    """The request line and headers (httpx's `Request` already carries Host and Content-Length)."""
    target = request.url.raw_path
    lines = [request.method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    has_length = False
    for name, value in request.headers.raw:
        lower = name.lower()
        if lower == b"transfer-encoding":
            continue  # the body is sent whole, with its length
        has_length = has_length or lower == b"content-length"
        lines.append(name + b": " + value)
    if not has_length and (body or request.method not in ("GET", "HEAD", "DELETE", "OPTIONS")):
        lines.append(b"Content-Length: " + str(len(body)).encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _acquire(slots: asyncio.Semaphore, timeout_s: float | None, request: httpx.Request) -> None:
    if not slots.locked():
        await slots.acquire()  # NOTE: does not suspend when a slot is free
        return
    try:
        async with asyncio.timeout(timeout_s):
            await slots.acquire()
    except TimeoutError:
        raise httpx.PoolTimeout("no connection slot free in time", request=request) from None


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection carrying one request at a time."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_done = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self.complete = False
        self.lost: Exception | None = None
        self.keep_alive = True
        self.idle_since = 0.0

    @property
    def usable(self) -> bool:
        return (self.lost is None and self.keep_alive and self._transport is not None
                and not self._transport.is_closing())

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # NOTE: no isinstance check: uvloop's transports are not subclasses of asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)  # idempotent: see LeanTransport._connect

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_done and not self.complete and _reads_to_close(self._headers):
            self.complete = True  # a body delimited by the connection's end
            self.keep_alive = False
            self._wake()
            return
        self._fail(httpx.ReadError(f"the server closed the connection{f': {exc}' if exc else ''}"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._parser.get_status_code() < 200:  # an interim 1xx answer: the real one follows
            self._headers = []
            return
        self._head_done = True
        self.keep_alive = self._parser.should_keep_alive()
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._head_done:
            self.complete = True
            self._wake()

    # used by the transport
    def send(self, head: bytes, body: bytes) -> None:
        assert self._transport is not None
        self._headers, self._head_done, self.complete = [], False, False
        self._chunks.clear()
        self._buffered = 0
        self._transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self._transport.write(body)

    async def response_head(self, timeout_s: float | None,
                            request: httpx.Request) -> tuple[int, list[tuple[bytes, bytes]]]:
        while not self._head_done:
            await self._wait(timeout_s, request)
        return self._parser.get_status_code(), self._headers

    async def next_chunk(self, timeout_s: float | None, request: httpx.Request) -> bytes | None:
        """The next body bytes, or None at the end of the body."""
        while not self._chunks:
            if self.complete:
                return None
            await self._wait(timeout_s, request)
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._paused and self._buffered < _HIGH_WATER // 2 and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return chunk

    def has_pending(self) -> bool:
        return bool(self._chunks)

    def close(self) -> None:
        self.keep_alive = False
        if self._transport is not None:
            self._transport.close()

    async def _wait(self, timeout_s: float | None, request: httpx.Request) -> None:
        if self.lost is not None:
            raise _copy(self.lost, request)
        self._waiter = self._loop.create_future()
        try:
            if timeout_s is None:
                await self._waiter
            else:
                async with asyncio.timeout(timeout_s):
                    await self._waiter
        except TimeoutError:
            raise httpx.ReadTimeout("the server sent nothing in time", request=request) from None
        finally:
            self._waiter = None
        if self.lost is not None and not self.complete:
            raise _copy(self.lost, request)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if self.lost is None:
            self.lost = exc
        self.keep_alive = False
        if self._transport is not None:
            self._transport.close()
        self._wake()


def _reads_to_close(headers: list[tuple[bytes, bytes]]) -> bool:
    names = {name.lower() for name, _ in headers}
    return b"content-length" not in names and b"transfer-encoding" not in names


def _copy(exc: Exception, request: httpx.Request) -> Exception:
    """A fresh exception of `exc`'s type for this request (one stored exception is not raised twice)."""
    if isinstance(exc, httpx.RequestError):
        return type(exc)(str(exc), request=request)
    return httpx.ReadError(str(exc), request=request)


class _BodyStream(httpx.AsyncByteStream):
    """The response body; the connection goes back to the pool once the body was read to its end."""

    def __init__(self, conn: _Connection, transport: LeanTransport, origin: _Origin,
                 slots: asyncio.Semaphore, read_timeout_s: float | None, request: httpx.Request) -> None:
        self._conn: _Connection | None = conn
        self._transport = transport
        self._origin = origin
        self._slots = slots
        self._timeout = read_timeout_s
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        while True:
            chunk = await conn.next_chunk(self._timeout, self._request)
            if chunk is None:
                break
            yield chunk
        await self.aclose()

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if conn.complete and not conn.has_pending():
            self._transport._give_back(self._origin, conn)
        else:
            conn.close()  # the answer was not read to its end: the connection cannot carry another
        self._slots.release()
