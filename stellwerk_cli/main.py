"""`stellwerk`: serve the cluster, show its status, prepare models, list the catalogue."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from cluster.telemetry import DEFAULT_INTERVAL_S
from models.catalogue import DEFAULT_CATALOGUE_PATH, CatalogueError
from router.routing.config import RoutingConfigError
from router.store.backend import StoreError
from router.tenancy.config import TenantsConfigError
from stellwerk_cli.logs import LOG_FORMATS, configure_logging

__all__ = ["main"]

DEFAULT_PORT = 8000
ENDPOINT_ENV = "STELLWERK_OTEL_ENDPOINT"  # router.tracing.ENDPOINT_ENV (not imported: keeps --help fast)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stellwerk",
        description="Stellwerk: a self-hosted LLM cluster (Ray Serve + vLLM) behind an OpenAI-compatible "
                    "router that chooses local or remote models per request.")
    parser.add_argument("--catalogue", type=Path, default=DEFAULT_CATALOGUE_PATH,
                        help="model catalogue YAML (default: the shipped models/catalogue.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging (also each upstream HTTP call)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                        help="text (default) or json: one JSON object per log line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="start Ray, deploy the local models and serve the router",
                           description="Start Ray on this machine (or join --ray-address), prepare and "
                                       "deploy every available local model, and serve the router. "
                                       "Ctrl-C or SIGTERM stops everything.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument("--max-body-mb", type=float, default=16.0,
                       help="largest request body in MiB; larger ones get 413 (default 16)")
    serve.add_argument("--max-connections", type=int, default=2048,
                       help="open connections and running requests together; over it 503 (default 2048)")
    serve.add_argument("--ray-address", default=None,
                       help="join an existing Ray cluster (e.g. 'auto' or 'ray://head:10001') instead "
                            "of starting one on this machine")
    serve.add_argument("--attach", default=None, metavar="ADDRESS",
                       help="attach to the applications already deployed on the Ray cluster at ADDRESS "
                            "(see `stellwerk deploy`) and deploy nothing: a stateless router, one of any "
                            "number (RAY_AUTH_MODE=token where the cluster uses Ray's token auth)")
    serve.add_argument("--num-cpus", type=int, default=None,
                       help="logical CPUs for the embedded Ray (default: all cores)")
    serve.add_argument("--models", default=None,
                       help="comma-separated catalogue ids to deploy (default: every available local model)")
    serve.add_argument("--cache-dir", type=Path, default=None,
                       help="where prepared model folders are kept (default ~/.cache/stellwerk/models)")
    serve.add_argument("--no-pin-cpus", dest="pin_cpus", action="store_false",
                       help="do not keep the router and Ray off the CPU engines' cores "
                            "(by default they share the one core vLLM reserves for them)")
    serve.add_argument("--telemetry-interval", type=_positive_float, default=DEFAULT_INTERVAL_S,
                       metavar="SECONDS",
                       help="how often engine queues and GPUs are sampled for /status and /metrics "
                            f"(default {DEFAULT_INTERVAL_S:g})")

    serve.add_argument("--routing-config", type=Path, default=None, metavar="FILE",
                       help="routing configuration YAML (default: the shipped router/routing/default.yaml); "
                            "re-read when it changes")
    serve.add_argument("--tenants", type=Path, default=None, metavar="FILE",
                       help="tenants and their policies (YAML; re-read when it changes). Without it: open "
                            "access, no API keys, one tenant 'default'")
    serve.add_argument("--database", default=None, metavar="URL",
                       help="ledger, keys and bans: sqlite:///path or postgresql://... (default: "
                            "$STELLWERK_DATABASE_URL, else ~/.local/share/stellwerk/stellwerk.db)")
    serve.add_argument("--store-responses", action="store_true",
                       help="keep /v1/responses answers in the --database so that previous_response_id "
                            "works (per tenant, on this machine); without it that parameter is refused")
    serve.add_argument("--admin-key-env", default="STELLWERK_ADMIN_KEY", metavar="NAME",
                       help="environment variable holding the admin API key (default STELLWERK_ADMIN_KEY; "
                            "unset: the admin API is off)")
    serve.add_argument("--decision-log", type=Path, default=None, metavar="FILE",
                       help="append one JSON line per routing decision to FILE "
                            "(default: the configuration's decision_log, if any)")
    serve.add_argument("--otel-endpoint", default=os.environ.get(ENDPOINT_ENV) or None, metavar="URL",
                       help="send OpenTelemetry traces of every request over OTLP/HTTP to URL (a collector, "
                            f"e.g. http://127.0.0.1:4318; default ${ENDPOINT_ENV}; unset: no tracing)")
    serve.add_argument("--otel-record-prompts", action="store_true",
                       help="put the prompt messages into the traces (off: never any prompt text)")

    status = sub.add_parser("status", help="show deployments, replicas, GPUs and health of a running router",
                            description="Ask a running Stellwerk router for its status.")
    status.add_argument("--url", default=f"http://127.0.0.1:{DEFAULT_PORT}", help="router base URL")
    status.add_argument("--json", action="store_true", help="print the raw JSON")

    prepare = sub.add_parser("prepare", help="convert packaged GGUF models into cached HF folders",
                             description="Prepare every local GGUF-package model of the catalogue "
                                         "(idempotent; safe to interrupt).")
    prepare.add_argument("--cache-dir", type=Path, default=None, help="cache folder")

    models = sub.add_parser("models", help="list the catalogue with availability on this machine",
                            description="List every catalogue entry, available or not, with the reason.")
    models.add_argument("--json", action="store_true", help="print JSON")

    for module in _command_modules():
        module.add_parser(sub)
    return parser


class _CommandModule(Protocol):
    """A module adding one command (or group): `add_parser` registers it and sets `handler` (a
    function of the parsed args returning the exit status) with `set_defaults`."""

    def add_parser(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


# Commands that live in their own module (keep this list short and the modules light to import:
# heavy imports belong inside the handlers).
_COMMAND_MODULES: tuple[str, ...] = (
    "stellwerk_cli.tenancy", "stellwerk_cli.eval", "stellwerk_cli.overhead", "stellwerk_cli.bench",
    "stellwerk_cli.plan", "stellwerk_cli.cost", "stellwerk_cli.cluster",
)


def _command_modules() -> list[_CommandModule]:
    return [importlib.import_module(name) for name in _COMMAND_MODULES]


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(command=args.command, verbose=args.verbose, log_format=args.log_format)
    from stellwerk_cli import commands

    handlers = {"serve": commands.serve, "status": commands.status,
                "prepare": commands.prepare, "models": commands.models}
    handler = handlers.get(args.command) or args.handler
    try:
        return int(handler(args))
    except (CatalogueError, RoutingConfigError, TenantsConfigError, StoreError) as exc:
        print(f"stellwerk: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
