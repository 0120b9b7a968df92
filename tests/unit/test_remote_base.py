"""Shared error mapping of remote adapters (serving/remote/base.py), over httpx.MockTransport."""

from __future__ import annotations

import httpx
import pytest

from models.catalogue import load_catalogue
from serving.errors import ContextLengthExceeded, InvalidRequest, StellwerkError
from serving.remote.registry import adapter_class


async def _error_for(body: dict[str, object]) -> StellwerkError:
    entry = load_catalogue().get("openai/gpt-4o-mini")
    assert entry is not None
    transport = httpx.MockTransport(lambda _: httpx.Response(400, json=body))
    async with httpx.AsyncClient(transport=transport) as client:
        engine = adapter_class("openai")(entry, "sk-test", client)
        with pytest.raises(StellwerkError) as err:
            async for _ in engine.chat({"model": entry.id, "messages": [{"role": "user", "content": "hi"}]}):
                pass
    return err.value


async def test_provider_context_length_error_keeps_its_meaning() -> None:
    error = await _error_for({"error": {"message": "This model's maximum context length is 128000 tokens",
                                        "type": "invalid_request_error", "code": "context_length_exceeded"}})
    assert isinstance(error, ContextLengthExceeded)
    assert error.code == "context_length_exceeded" and error.status_code == 400


async def test_a_400_mentioning_safety_is_not_a_content_filter() -> None:
    error = await _error_for({"error": {"message": "Invalid safety_identifier",
                                        "type": "invalid_request_error", "code": "invalid_value"}})
    assert type(error) is InvalidRequest


async def test_a_stream_of_keepalives_still_ends_at_the_total_timeout() -> None:
    import asyncio

    from serving.errors import UpstreamTimeout
    from serving.remote.base import Timeouts

    async def pings():  # type: ignore[no-untyped-def]
        while True:
            yield b": keep-alive\n\n"
            await asyncio.sleep(0.02)

    entry = load_catalogue().get("anthropic/claude-sonnet-4")
    assert entry is not None
    transport = httpx.MockTransport(lambda _: httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=pings()))
    async with httpx.AsyncClient(transport=transport) as client:
        engine = adapter_class("anthropic")(entry, "key", client, Timeouts(read_s=5, total_s=0.3))
        with pytest.raises(UpstreamTimeout):
            await asyncio.wait_for(_drain(engine), timeout=5)


async def _drain(engine: object) -> None:
    async for _ in engine.chat({"model": "m", "messages": [{"role": "user", "content": "hi"}]}):  # type: ignore[attr-defined]
        pass


async def test_an_untranslatable_message_is_refused_at_the_edge_and_a_bug_is_not_blamed_on_the_client(
) -> None:
    from tests.fakes import asgi_client, build_fake_app

    async with asgi_client(build_fake_app().app) as client:
        response = await client.post("/v1/chat/completions", json={
            "model": "gemini/gemini-2.5-flash",
            "messages": [{"role": "user", "content": [{"type": "text"}, {"type": "image_url"}]}]})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages.0.content"

    entry = load_catalogue().get("gemini/gemini-2.5-flash")
    assert entry is not None
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(500))) as client:
        engine = adapter_class("gemini")(entry, "key", client)
        with pytest.raises(KeyError):  # an adapter's own failure is a 500, not the client's 400
            async for _ in engine.chat({"model": "m", "messages": [
                    {"role": "user", "content": [{"type": "text"}, {"type": "image_url"}]}]}):
                pass
