"""`stellwerk render` and `stellwerk deploy`: the catalogue as a Ray Serve config, applied to a cluster.

    stellwerk render --format serve > serve.yaml        # for `serve deploy` / `stellwerk deploy --config`
    stellwerk render --format rayservice > rs.yaml      # a KubeRay RayService embedding the same config
    stellwerk render --format helm --out chart/         # a Helm chart carrying it as values
    stellwerk deploy --ray-address 10.0.0.5:6379        # render and apply; waits for every app

Routers then attach with `stellwerk serve --attach ADDRESS` (as many as you like).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = ["add_parser", "render_config"]

DEFAULT_DEPLOY_TIMEOUT_S = 900.0
# What one replica takes of a node's custom placement resource: only its presence matters.
NODE_RESOURCE_SHARE = 0.01


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    render = sub.add_parser("render", help="the catalogue as a Ray Serve config, RayService or Helm chart",
                            description="Render the local models as a Ray Serve config (what `serve "
                                        "deploy` and KubeRay's serveConfigV2 take), or KubeRay manifests.")
    render.add_argument("--format", choices=("serve", "rayservice", "helm"), default="serve")
    render.add_argument("--out", type=Path, default=None,
                        help="file (serve, rayservice) or folder (helm; required); default: stdout")
    _model_options(render)
    render.add_argument("--variant", choices=("cpu", "gpu"), default="cpu",
                        help="worker group of the KubeRay manifests (default cpu)")
    render.add_argument("--image", default="stellwerk:0.1.0", help="container image of the manifests")
    render.add_argument("--routers", type=int, default=2, help="router pods in the manifests (default 2)")
    render.set_defaults(handler=render_command)

    deploy = sub.add_parser("deploy", help="apply the rendered Serve config to a running Ray cluster",
                            description="Render (or read --config) and apply the Serve config to the "
                                        "cluster at --ray-address; idempotent. Shows each application's "
                                        "status until all are RUNNING (exit 0) or one fails (exit 1).")
    deploy.add_argument("--ray-address", default="auto", help="the cluster's GCS address (default auto)")
    deploy.add_argument("--config", type=Path, default=None, help="apply this rendered file instead")
    deploy.add_argument("--timeout", type=float, default=DEFAULT_DEPLOY_TIMEOUT_S, metavar="SECONDS",
                        help=f"how long to follow the rollout (default {DEFAULT_DEPLOY_TIMEOUT_S:g})")
    _model_options(deploy)
    deploy.set_defaults(handler=deploy_command)


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default=None,
                        help="comma-separated local catalogue ids (default: those available on this machine)")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="where prepared model folders are on the cluster's nodes "
                             "(default: this machine's cache, ~/.cache/stellwerk/models)")
    parser.add_argument("--node-resource", default=None, metavar="NAME",
                        help="place every model pool without its own pool.resources on nodes that carry "
                             "this custom Ray resource (default: none; worker_node for KubeRay manifests)")
    parser.add_argument("--proxy-location", choices=("Disabled", "HeadOnly", "EveryNode"), default=None,
                        help="Serve's HTTP proxies (default Disabled; HeadOnly for KubeRay manifests)")


def render_config(args: argparse.Namespace, proxy_location: str = "Disabled",
                  node_resource: str | None = None) -> dict[str, Any]:
    """The Serve config for the selected local models."""
    from cluster.serve_config import RenderOptions, render_serve_config
    from models.availability import check_availability
    from models.catalogue import load_catalogue
    from models.prepare import default_cache_root
    from serving.deploy import cluster_source
    from serving.remote.registry import ADAPTERS

    catalogue = load_catalogue(args.catalogue)
    locals_ = [e for e in catalogue.models if e.is_local]
    availability = {e.id: check_availability(e, gpu_count=0, remote_types=ADAPTERS.keys()) for e in locals_}
    if args.models:
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = sorted(set(wanted) - {e.id for e in locals_})
        if unknown:
            raise SystemExit(f"stellwerk: not local catalogue models: {', '.join(unknown)}")
        chosen = [e for e in locals_ if e.id in wanted]
    else:
        chosen = [e for e in locals_ if availability[e.id].available]
    root = args.model_dir or default_cache_root()
    resource = args.node_resource or node_resource
    if resource:
        chosen = [_placed(e, resource) for e in chosen]
    models = [(e, cluster_source(e, availability[e.id].source, root)) for e in chosen]
    models.sort(key=lambda m: m[0].task != "chat")
    location: Any = args.proxy_location or proxy_location
    return render_serve_config(models, RenderOptions(proxy_location=location))


def _placed(entry: Any, resource: str) -> Any:
    """`entry` asking for a sliver of `resource` per replica, unless its pool names its own."""
    if entry.pool.resources:
        return entry
    pool = entry.pool.model_copy(update={"resources": {resource: NODE_RESOURCE_SHARE}})
    return entry.model_copy(update={"pool": pool})


def render_command(args: argparse.Namespace) -> int:
    from cluster.manifests import ClusterShape, dump_yaml, helm_chart, rayservice, router_service

    shape = ClusterShape(image=args.image, variant=args.variant, routers=args.routers)
    if args.format == "serve":
        _write(yaml.safe_dump(render_config(args), sort_keys=False), args.out)
        return 0
    config = render_config(args, proxy_location="HeadOnly", node_resource=shape.worker_resource)
    if args.format == "rayservice":
        docs = [rayservice(config, shape), router_service(shape)]
        _write(dump_yaml(*docs), args.out)
        return 0
    if args.out is None:
        print("stellwerk: --format helm needs --out FOLDER", file=sys.stderr)
        return 2
    for name, text in helm_chart(config, shape).items():
        path = args.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote a Helm chart to {args.out}")
    return 0


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)


def deploy_command(args: argparse.Namespace) -> int:
    from cluster import ray_cluster
    from cluster.deployer import apply_serve_config, wait_for_apps
    from cluster.serve_config import application_names, validate_serve_config

    config = yaml.safe_load(args.config.read_text()) if args.config else render_config(args)
    try:
        validate_serve_config(config)
    except ValueError as exc:
        print(f"stellwerk: {exc}", file=sys.stderr)
        return 2
    names = application_names(config)
    ray_cluster.attach(args.ray_address)
    try:
        apply_serve_config(config)
        print(f"applied {len(names)} applications: {', '.join(names) or 'none'}", flush=True)
        final = wait_for_apps(names, args.timeout, on_change=_print_progress)
    finally:
        ray_cluster.shutdown(joined=True, apps=names)
    failed = {n: s for n, s in final.items() if s.status != "RUNNING"}
    missing = sorted(set(names) - set(final))
    if failed or missing:
        print(json.dumps({"not_running": {n: s.status for n, s in failed.items()}, "missing": missing}),
              file=sys.stderr)
        return 1
    print("every application is RUNNING")
    return 0


def _print_progress(statuses: dict[str, Any]) -> None:
    for name, status in sorted(statuses.items()):
        replicas = ", ".join(f"{n} {s.lower()}" for s, n in status.replicas.items()) or "no replicas"
        message = f"  {status.message[:200]}" if status.message and status.status != "RUNNING" else ""
        print(f"  {name:36} {status.status:14} {replicas}{message}", flush=True)
