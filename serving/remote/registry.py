"""Remote adapters by catalogue `type`, their pooled HTTP clients, and API keys.

Adapters are looked up in a table keyed by the catalogue's `remote.type` — never by `if provider ==`
chains; an unknown type fails with the list of known ones.
"""

from __future__ import annotations

import importlib
import os
import urllib.request
from collections.abc import Mapping

import httpx

from models.catalogue import ModelEntry
from models.secrets import resolve_api_key
from serving.remote.base import RemoteChatEngine, Timeouts
from serving.remote.transport import DEFAULT_LIMITS, LeanTransport

__all__ = ["ADAPTERS", "ProviderClients", "adapter_class", "create_remote_engine"]

# type -> "module:Class". One module per wire protocol.
ADAPTERS: Mapping[str, str] = {
    "openai": "serving.remote.openai_chat:OpenAIChatEngine",
    "openai-compatible": "serving.remote.openai_chat:OpenAICompatibleChatEngine",
    "openai-responses": "serving.remote.openai_responses:OpenAIResponsesEngine",
    "anthropic": "serving.remote.anthropic_messages:AnthropicChatEngine",
    "gemini": "serving.remote.gemini:GeminiChatEngine",
}



def adapter_class(adapter_type: str) -> type[RemoteChatEngine]:
    try:
        target = ADAPTERS[adapter_type]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise ValueError(f"unknown remote adapter type {adapter_type!r}; known types: {known}") from None
    module, _, name = target.partition(":")
    cls: type[RemoteChatEngine] = getattr(importlib.import_module(module), name)
    return cls


def _client(transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    """A client over `transport`; by default over a `LeanTransport` (see its module for why), unless
    proxy variables (HTTPS_PROXY, ...) are set: httpx honours them only on its own transports."""
    if transport is None and urllib.request.getproxies():
        return httpx.AsyncClient(limits=DEFAULT_LIMITS)
    return httpx.AsyncClient(transport=transport or LeanTransport(DEFAULT_LIMITS))


class ProviderClients:
    """One pooled `httpx.AsyncClient` per provider, shared by all of its models (tests pass a
    `transport`, e.g. `httpx.MockTransport`)."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self._clients: dict[str, httpx.AsyncClient] = {}

    def for_provider(self, provider: str) -> httpx.AsyncClient:
        if provider not in self._clients:
            self._clients[provider] = _client(self._transport)
        return self._clients[provider]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


def create_remote_engine(entry: ModelEntry, clients: ProviderClients,
                         environ: Mapping[str, str] = os.environ) -> RemoteChatEngine:
    """The engine for a remote catalogue entry (its key must resolve; see `resolve_api_key`)."""
    if entry.remote is None:
        raise ValueError(f"model {entry.id!r} is not remote")
    key = resolve_api_key(entry.remote, environ)
    if key is None:
        raise ValueError(f"no API key for {entry.id!r}: set {entry.remote.api_key_env}")
    r = entry.remote
    timeouts = Timeouts(connect_s=r.connect_timeout_s, read_s=r.read_timeout_s, total_s=r.total_timeout_s)
    return adapter_class(r.type)(entry, key, clients.for_provider(entry.provider), timeouts)
