"""The real router in front of the provider fakes, with catalogue entries pointed at scripted models."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

from models.availability import Availability
from models.catalogue import ModelEntry, load_catalogue
from router.app import create_app
from router.registry import ModelRegistry
from router.routing.build import default_routing
from serving.remote.registry import ProviderClients, create_remote_engine
from tests.fake_providers.runner import serve_app
from tests.fakes import DEFAULT_QUALITY, ScriptedFeatures, TableQuality

__all__ = ["ENV", "Route", "fake_apps", "served_router"]

ENV = {"OPENAI_API_KEY": "test-key", "ANTHROPIC_API_KEY": "test-key", "GEMINI_API_KEY": "test-key"}
Route = tuple[str, str, str]  # (fake module, path under the fake's root, the fake's scripted model)


def fake_apps(routes: Mapping[str, Route]) -> dict[str, Any]:
    """One fake app per module named in `routes` (their `state.requests` record what reached them)."""
    modules = {name: importlib.import_module(f"tests.fake_providers.{name}")
               for name, _, _ in routes.values()}
    return {name: module.create_app(expected_key="test-key") for name, module in modules.items()}


def _pointed_at(entry: ModelEntry, base_url: str, model: str) -> ModelEntry:
    assert entry.remote is not None
    remote = entry.remote.model_copy(update={"base_url": base_url, "model": model})
    return entry.model_copy(update={"remote": remote})


@contextmanager
def served_router(routes: Mapping[str, Route], apps: Mapping[str, Any], **app_options: Any) -> Iterator[str]:
    """The router's root URL; each catalogue model in `routes` calls its fake's scripted model."""
    catalogue = load_catalogue()
    with ExitStack() as stack:
        urls = {module: stack.enter_context(serve_app(app)) for module, app in apps.items()}
        entries = {m: _pointed_at(catalogue.get(m), urls[module] + path, upstream)  # type: ignore[arg-type]
                   for m, (module, path, upstream) in routes.items()}
        clients = ProviderClients()
        engines = {m: create_remote_engine(e, clients, ENV) for m, e in entries.items()}
        availabilities = [Availability(entries.get(e.id, e), e.id in entries,
                                       None if e.id in entries else "off") for e in catalogue.models]
        registry = ModelRegistry(availabilities, engines, {})
        routing = default_routing(registry, features=ScriptedFeatures(),
                                  quality=TableQuality(DEFAULT_QUALITY))  # type: ignore[arg-type]
        app = create_app(registry, on_shutdown=clients.aclose, routing=routing, **app_options)
        yield stack.enter_context(serve_app(app))
