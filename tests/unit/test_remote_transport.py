"""`LeanTransport` under a real `httpx.AsyncClient`, against real HTTP servers on loopback: whole and
streamed bodies (length, chunked, to the close), keep-alive reuse, a body left early closes its
connection, error statuses, and connect/read failures as httpx's own exceptions."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvloop

from benchmarks.overhead.fake_upstream import FakeUpstream, answer_text
from serving.remote.transport import LeanTransport
from tests.fake_providers.runner import serve_app

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Runner = Callable[[Awaitable[Any]], Any]
_TEXT = [(b"content-type", b"text/plain")]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Awaitable[Any]], Any]:
    """Run a coroutine on asyncio's loop or on uvloop (which the router's server uses)."""
    factory = uvloop.new_event_loop if request.param == "uvloop" else asyncio.new_event_loop

    def run(main: Awaitable[Any]) -> Any:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(main)  # type: ignore[arg-type]
    return run


@pytest.fixture(scope="module")
def fake() -> Iterator[str]:
    with serve_app(FakeUpstream(pieces=5)) as url:
        yield url + "/v1"


async def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=LeanTransport(), timeout=5)


def _body(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def test_whole_and_streamed_answers_reuse_one_connection(fake: str, run: Runner) -> None:
    async def main() -> tuple[list[str], list[int], int]:
        transport = LeanTransport()
        async with httpx.AsyncClient(transport=transport, timeout=5) as client:
            texts = []
            for _ in range(3):
                reply = await client.post(fake + "/chat/completions", json=_body(False))
                texts.append(reply.json()["choices"][0]["message"]["content"])
            sizes = []
            for _ in range(3):
                async with client.stream("POST", fake + "/chat/completions", json=_body(True)) as reply:
                    events = [line async for line in reply.aiter_lines() if line.startswith("data: ")]
                    sizes.append(len(events))
            return texts, sizes, transport._idle_count

    texts, sizes, idle = run(main())
    assert texts == [answer_text(5)] * 3
    assert sizes == [9] * 3  # role, 5 pieces, finish, usage, [DONE]
    assert idle == 1  # six requests, one after the other, on one kept-alive connection


async def _chunked_then_close(scope: Scope, receive: Receive, send: Send) -> None:
    """Chunked for /chunked; for /close a body without a length, delimited by closing the connection."""
    if scope["type"] != "http":
        return
    await receive()
    if scope["path"] == "/chunked":
        await send({"type": "http.response.start", "status": 200, "headers": _TEXT})
        for piece in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif scope["path"] == "/error":
        body = json.dumps({"error": {"message": "no such model", "type": "invalid_request_error"}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif scope["path"] == "/slow":
        await send({"type": "http.response.start", "status": 200, "headers": _TEXT})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await asyncio.sleep(2)
        await send({"type": "http.response.body", "body": b"late"})


@pytest.fixture(scope="module")
def plain() -> Iterator[str]:
    with serve_app(_chunked_then_close) as url:
        yield url


def test_chunked_body_and_error_status(plain: str, run: Runner) -> None:
    async def main() -> tuple[str, int, str]:
        async with await _client() as client:
            chunked = await client.get(plain + "/chunked")
            error = await client.post(plain + "/error", json={})
            return chunked.text, error.status_code, error.json()["error"]["message"]

    assert run(main()) == ("one two three", 404, "no such model")


def test_read_timeout_and_early_close(plain: str, run: Runner) -> None:
    async def main() -> tuple[bool, int]:
        transport = LeanTransport()
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, read=0.3)) as client:
            timed_out = False
            try:
                await client.get(plain + "/slow")
            except httpx.ReadTimeout:
                timed_out = True
            async with client.stream("GET", plain + "/slow") as reply:
                iterator = reply.aiter_bytes()
                await anext(iterator)  # then leave early: the connection cannot be reused
            return timed_out, transport._idle_count

    assert run(main()) == (True, 0)


def test_connect_error_is_httpx_connect_error(run: Runner) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: the connection is refused

        async def main() -> None:
            async with await _client() as client:
                await client.get(f"http://127.0.0.1:{port}/")

        with pytest.raises(httpx.ConnectError):
            run(main())


def test_server_closing_mid_body_is_a_read_error(run: Runner) -> None:
    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, await _client() as client, \
                client.stream("GET", f"http://127.0.0.1:{port}/") as reply:
            parts: AsyncIterator[bytes] = reply.aiter_bytes()
            async for _ in parts:
                pass

    with pytest.raises(httpx.ReadError):
        run(main())


def test_provider_clients_use_the_lean_transport_unless_proxies_are_set(
        monkeypatch: pytest.MonkeyPatch, run: Runner) -> None:
    from serving.remote.registry import ProviderClients

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    async def transports() -> tuple[type, type]:
        plain = ProviderClients()
        lean = type(plain.for_provider("a")._transport)
        monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
        proxied = ProviderClients()
        other = type(proxied.for_provider("a")._transport)
        await plain.aclose()
        await proxied.aclose()
        return lean, other

    lean, other = run(transports())
    assert lean is LeanTransport
    assert other is httpx.AsyncHTTPTransport


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_https_with_a_trusted_certificate_and_a_refused_one(tmp_path: Path, run: Runner) -> None:
    cert, key = _self_signed(tmp_path)

    async def main() -> tuple[int, str, bool]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure")
                await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
                pass  # the refusing client hangs up during the handshake
            finally:
                writer.close()

        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(cert, key)
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        url = f"https://localhost:{server.sockets[0].getsockname()[1]}/"
        trusting = ssl.create_default_context(cafile=str(cert))
        async with server, httpx.AsyncClient(transport=LeanTransport(ssl_context=trusting), timeout=5) as ok:
            reply = await ok.get(url)
            refused = False
            async with httpx.AsyncClient(transport=LeanTransport(), timeout=5) as default:
                try:
                    await default.get(url)  # httpx's default trust store does not know this certificate
                except httpx.ConnectError:
                    refused = True
            return reply.status_code, reply.text, refused

    assert run(main()) == (200, "secure", True)
