"""The real router in its own process, for the fault-injection tests:

    python -m tests.chaos.router_process --port PORT --upstream URL --database URL [--header-timeout S]
        [--max-connections N] [--max-body-bytes N] [--write-timeout S]

`openai/gpt-4o-mini` is the catalogue's own entry pointed at the fault upstream (`tests.chaos.
fault_upstream`) through the real OpenAI adapter, with short timeouts (read 2 s, whole answer 4 s).
`gemma-3-270m` is a fake engine with a bug (it raises `KeyError`): every request to it is a 500. The
server is `router.server.run_server` with the given limits; the ledger is at `--database`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from models.availability import Availability
from models.catalogue import load_catalogue
from router.app import create_app
from router.chat.accounted import StreamSettings, StreamSlots
from router.edge import EdgeLimits
from router.registry import ModelRegistry
from router.routing.build import default_routing
from router.server import ServerLimits, run_server
from router.store import Database
from router.tenancy.service import TenancyService
from serving.engine import ChatEngine
from serving.remote.registry import ProviderClients, create_remote_engine
from tests.fakes import FakeChatEngine, ScriptedFeatures, TableQuality

REMOTE = "openai/gpt-4o-mini"
BUGGY = "gemma-3-270m"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--max-connections", type=int, default=2048)
    parser.add_argument("--max-body-bytes", type=int, default=16 * 1024 * 1024)
    parser.add_argument("--write-timeout", type=float, default=30.0)
    parser.add_argument("--streams-per-tenant", type=int, default=256)
    args = parser.parse_args()

    catalogue = load_catalogue()
    entry = catalogue.get(REMOTE)
    assert entry is not None and entry.remote is not None
    remote = entry.remote.model_copy(update={"base_url": args.upstream, "read_timeout_s": 2.0,
                                             "total_timeout_s": 4.0, "connect_timeout_s": 2.0})
    entry = entry.model_copy(update={"remote": remote})
    clients = ProviderClients()
    engines: dict[str, ChatEngine] = {
        REMOTE: create_remote_engine(entry, clients, {"OPENAI_API_KEY": "chaos-key"}),
        BUGGY: FakeChatEngine(BUGGY, error=KeyError("a bug in an engine"))}
    availabilities = [Availability(entry if m.id == REMOTE else m, m.id in engines,
                                   None if m.id in engines else "off") for m in catalogue.models]
    registry = ModelRegistry(availabilities, engines, {})
    routing = default_routing(registry, features=ScriptedFeatures(), quality=TableQuality({}))
    tenancy = TenancyService.open_access(Database.open(args.database, default_path=Path("unused.db")))
    app = create_app(registry, on_shutdown=clients.aclose, routing=routing, tenancy=tenancy,
                     limits=EdgeLimits(max_body_bytes=args.max_body_bytes),
                     streams=StreamSettings(slots=StreamSlots(args.streams_per_tenant),
                                            write_timeout_s=args.write_timeout))
    run_server(app, "127.0.0.1", args.port,
               ServerLimits(header_timeout_s=args.header_timeout, max_connections=args.max_connections,
                            keep_alive_s=30))


if __name__ == "__main__":
    main()
