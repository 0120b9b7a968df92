"""`router.server`: a connection that ends with a reset leaves nothing behind.

uvicorn 0.55 cancels a connection's keep-alive timer only when the connection ends cleanly; after a
reset the timer kept the protocol, its last request cycle and what they hold alive for the whole
keep-alive time. Measured on the real server with real sockets.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import struct

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from router.server import HeaderTimeoutProtocol, ServerLimits, server_config


async def _hello(request: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


def _protocols() -> list[HeaderTimeoutProtocol]:
    gc.collect()
    # type(), not isinstance(): some objects (torch's) warn when their __class__ is read.
    return [o for o in gc.get_objects() if issubclass(type(o), HeaderTimeoutProtocol)]


def _request_then_reset(port: int) -> bytes:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b"hello"):
        answer += sock.recv(4096)
    # SO_LINGER 0: close() sends a reset, as a client that gave up on a stalled stream does.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    return answer


@pytest.mark.asyncio
async def test_a_reset_keep_alive_connection_is_released_at_once() -> None:
    app = Starlette(routes=[Route("/", _hello)])
    config = server_config(app, "127.0.0.1", 0, ServerLimits(keep_alive_s=30), loop="asyncio")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        answers = await asyncio.gather(*(asyncio.to_thread(_request_then_reset, port) for _ in range(5)))
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers)
        for _ in range(100):  # the resets reach the server's event loop
            if not server.server_state.connections:
                break
            await asyncio.sleep(0.01)
        assert not server.server_state.connections
        assert _protocols() == []  # not kept for the 30 s keep-alive time
    finally:
        server.should_exit = True
        await serving
