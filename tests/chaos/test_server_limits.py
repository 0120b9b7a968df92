"""The router's HTTP server limits on a real uvicorn process: slow headers (slowloris) are cut off,
connections over the cap are refused at once, and a 500 does not reset the keep-alive connection."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.chaos.harness import RouterProcess, router_process, upstream_process

HANG_BOUND_S = 30.0  # detects a connection the server never closes; not a timing requirement


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    database = f"sqlite://{tmp_path_factory.mktemp('limits') / 'ledger.db'}"
    with upstream_process() as upstream, \
            router_process(upstream, database, header_timeout=1, max_connections=40) as process:
        yield process


def _address(router: RouterProcess) -> tuple[str, int]:
    return "127.0.0.1", int(router.url.rsplit(":", 1)[1])


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(HANG_BOUND_S)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def test_slow_headers_are_cut_off_while_others_are_served(router: RouterProcess) -> None:
    slow = []
    for _ in range(25):
        sock = socket.create_connection(_address(router))
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
        slow.append(sock)
    idle = socket.create_connection(_address(router))  # connects, sends nothing at all

    assert httpx.get(router.url + "/health", timeout=HANG_BOUND_S).status_code == 200
    assert all(_closed_by_server(s) for s in [*slow, idle])
    for sock in [*slow, idle]:
        sock.close()


def test_connections_over_the_cap_are_refused_at_once(router: RouterProcess) -> None:
    held = [socket.create_connection(_address(router)) for _ in range(45)]
    time.sleep(0.2)  # let the server accept them
    try:
        refused = httpx.get(router.url + "/health", timeout=HANG_BOUND_S)
    finally:
        for sock in held:
            sock.close()
    assert refused.status_code == 503
    deadline = time.monotonic() + HANG_BOUND_S
    while httpx.get(router.url + "/health", timeout=HANG_BOUND_S).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def _request(sock: socket.socket, path: str, body: bytes = b"") -> tuple[int, bytes]:
    method = "POST" if body else "GET"
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    head = b""
    while b"\r\n\r\n" not in head:
        part = sock.recv(65536)
        assert part, "the server closed the connection"
        head += part
    head, _, rest = head.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        part = sock.recv(65536)
        assert part, "the server closed the connection mid-body"
        rest += part
    return int(head.split(b" ")[1]), rest


def test_a_500_leaves_the_keep_alive_connection_usable(router: RouterProcess, tmp_path: Path) -> None:
    sock = socket.create_connection(_address(router))
    sock.settimeout(HANG_BOUND_S)
    buggy = b'{"model": "gemma-3-270m", "messages": [{"role": "user", "content": "hi"}]}'
    try:
        first, body = _request(sock, "/v1/chat/completions", buggy)
        second, _ = _request(sock, "/health")
        third, _ = _request(sock, "/v1/chat/completions", buggy)
    finally:
        sock.close()
    assert first == 500 and b"internal_error" in body
    assert (second, third) == (200, 500)
