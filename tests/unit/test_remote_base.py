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
