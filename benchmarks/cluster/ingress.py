"""Serve-ingress routers vs attached routers, in one run on one machine (label the numbers as busy).

  A/B. attached routers (`benchmarks.cluster.routers`' phases): a two-node cluster, the embedding model
       on the worker node, 1 then 2 `stellwerk serve --attach` processes;
  C/D. a fresh two-node cluster with the same model, and the router deployed as a Serve application
       (`benchmarks/cluster/ingress_app.py`) behind Serve's HTTP proxy on the head: 1 then 2 replicas.
Each phase: a closed loop of `--concurrency` clients for `--seconds`, embeddings (router → Serve
handle → replica on the worker node) and chat to a fake remote provider (router only).

    python -m benchmarks.cluster.ingress --seconds 15 --concurrency 16 --out benchmarks/results/ingress.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from benchmarks.cluster.routers import attached_phases, measure, wait_ready
from tests.cluster.ray_nodes import ROOT, free_port, ray_env, two_node_cluster
from tests.cluster.test_two_nodes import EMBEDDING, KEY_ENV, fake_remote_catalogue, stellwerk
from tests.fake_providers import openai_server
from tests.fake_providers.runner import serve_app

ROUTER_APP = "stellwerk-router"


def ingress_config(catalogue: Path, database: Path, port: int, replicas: int) -> dict[str, Any]:
    """The rendered config for the embedding model, plus the router as a Serve ingress on `port`."""
    rendered = subprocess.run(stellwerk(catalogue, "render", "--format", "serve", "--models", EMBEDDING,
                                        "--node-resource", "worker_node"),
                              capture_output=True, text=True, cwd=ROOT, check=True, env=ray_env())
    config: dict[str, Any] = yaml.safe_load(rendered.stdout)
    config["proxy_location"] = "HeadOnly"
    config["http_options"] = {"host": "127.0.0.1", "port": port}
    config["applications"].append({
        "name": ROUTER_APP, "route_prefix": "/",
        "import_path": "benchmarks.cluster.ingress_app:build_router_ingress",
        "args": {"catalogue": str(catalogue), "database": str(database), "replicas": replicas,
                 "env": {KEY_ENV: "test-key"}}})
    return config


def apply(config: dict[str, Any], folder: Path, address: str) -> None:
    path = folder / "ingress.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    done = subprocess.run(stellwerk(Path(config["applications"][-1]["args"]["catalogue"]), "deploy",
                                    "--ray-address", address, "--config", str(path), "--timeout", "300"),
                          capture_output=True, text=True, env=ray_env(), cwd=ROOT, timeout=400, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])


def ingress_phases(catalogue: Path, folder: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with two_node_cluster(folder / "ingress") as nodes:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        for replicas in (1, 2):
            apply(ingress_config(catalogue, folder / "ingress.db", port, replicas), folder, nodes.address)
            wait_ready(url)
            rows += measure([url], f"serve ingress, {replicas} replica{'s' if replicas > 1 else ''}", args)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--ingress-only", action="store_true", help="only phases C/D")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="stw-ingress-") as tmp, \
            serve_app(openai_server.create_app(expected_key="test-key")) as fake:
        folder = Path(tmp)
        (folder / "ingress").mkdir()
        catalogue = fake_remote_catalogue(folder, fake)
        if not args.ingress_only:
            rows += attached_phases(catalogue, folder, args)
        rows += ingress_phases(catalogue, folder, args)
    report = {"machine": f"{os.cpu_count()} cores, shared with other jobs (busy machine)",
              "seconds": args.seconds, "concurrency": args.concurrency, "rows": rows}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
