"""Serve the real Stellwerk router in front of the fake upstream, as `stellwerk serve` does, minus Ray.

The fake is registered as one remote `openai-compatible` catalogue entry (written to a catalogue file
and read back by the real loader), its engine comes from the real adapter registry, and the app from
`router.app.create_app` with the shipped routing configuration: open access with the cost ledger on
(SQLite, group commit; each answer's row is committed before its last byte). It is served by
`router.server.run_server`, as `stellwerk serve` serves it (uvicorn, one worker, uvloop + httptools,
the server limits, no access log).

Requests must name the model (`fake-model`): the benchmark measures the gateway path, not the request
classifier, so the classifier (torch + an embedding model) is not loaded; a `model: auto` request fails
loudly rather than being measured with a different classifier.

    python -m benchmarks.overhead.router_server --upstream http://127.0.0.1:9000/v1 --port 9001
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["MODEL_ID", "build_app", "catalogue_yaml", "main"]

MODEL_ID = "fake-model"
API_KEY_ENV = "STELLWERK_BENCH_FAKE_KEY"


def catalogue_yaml(upstream_url: str) -> str:
    """A catalogue with one remote openai-compatible model served by the fake at `upstream_url`."""
    return f"""models:
  - id: {MODEL_ID}
    kind: remote
    provider: fake
    license: test fixture
    description: the overhead benchmark's fast fake upstream
    remote: {{type: openai-compatible, base_url: "{upstream_url}", model: {MODEL_ID},
              api_key_env: {API_KEY_ENV}, read_timeout_s: 30}}
    capabilities: {{chat: true, tools: true, json_mode: true, vision: false, context_length: 32000}}
    pricing: {{input_per_mtok: 0.15, output_per_mtok: 0.60}}
    residency: {{jurisdiction: on-prem, leaves_premises: false}}
"""


class _NamedModelsOnly:
    """The feature source: the benchmark names its model, so routing must never classify a prompt."""

    def extract(self, request: Any) -> Any:
        raise RuntimeError("the overhead benchmark's router serves named models only, not 'auto'")


def build_app(upstream_url: str, workdir: Path) -> Any:
    """The router app over the fake upstream (a catalogue file is written into `workdir`)."""
    from models.availability import check_availability
    from models.catalogue import load_catalogue
    from router.app import create_app
    from router.registry import ModelRegistry
    from router.routing.build import default_routing
    from serving.remote.registry import ADAPTERS, ProviderClients, create_remote_engine

    path = workdir / "catalogue.yaml"
    path.write_text(catalogue_yaml(upstream_url), encoding="utf-8")
    environ = {API_KEY_ENV: "fake-key"}
    availabilities = [check_availability(e, gpu_count=0, environ=environ, remote_types=ADAPTERS.keys())
                      for e in load_catalogue(path).models]
    unavailable = [f"{a.entry.id}: {a.reason}" for a in availabilities if not a.available]
    if unavailable:
        raise RuntimeError(f"benchmark catalogue entries unavailable: {unavailable}")
    clients = ProviderClients()
    engines = {a.entry.id: create_remote_engine(a.entry, clients, environ) for a in availabilities}
    registry = ModelRegistry(availabilities, engines, {})
    routing = default_routing(registry, features=_NamedModelsOnly())
    return create_app(registry, on_shutdown=clients.aclose, routing=routing)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead.router_server",
                                     description="Serve the Stellwerk router in front of a fake upstream.")
    parser.add_argument("--upstream", required=True, help="the fake's base URL, e.g. http://127.0.0.1:9000/v1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    from router.server import run_server

    with tempfile.TemporaryDirectory(prefix="stellwerk-overhead-") as tmp:
        app = build_app(args.upstream, Path(tmp))
        run_server(app, args.host, args.port)  # `stellwerk serve`'s server and limits
    return 0


if __name__ == "__main__":
    sys.exit(main())
