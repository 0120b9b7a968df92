"""Routers on a cluster: requests/s and latency of 1 vs 2 attached routers, and attached vs embedded.

One run, one machine (label the numbers with how busy it was):
  A. a two-node Ray cluster on this host (tests/cluster/ray_nodes.py), the embedding model deployed on
     the worker node with `stellwerk deploy`, one router attached with `stellwerk serve --attach`;
  B. the same with a second attached router, load spread round-robin over both;
  C. the cluster stopped, then the embedded `stellwerk serve` (its own Ray, the same model).
Each phase runs a closed loop of `--concurrency` clients for `--seconds`, once for embeddings (router →
Serve handle → replica on the worker node) and once for chat to a fake remote provider (router only).

    python -m benchmarks.cluster.routers --seconds 15 --concurrency 16 --out benchmarks/results/cluster.json
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.cluster.ray_nodes import ROOT, free_port, two_node_cluster
from tests.cluster.test_two_nodes import (
    EMBEDDING,
    KEY_ENV,
    REMOTE,
    Router,
    deploy,
    fake_remote_catalogue,
    start_router,
    stellwerk,
    stop_router,
)
from tests.fake_providers import openai_server
from tests.fake_providers.runner import serve_app

WORKLOADS: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    "embeddings": ("/v1/embeddings", lambda i: {"model": EMBEDDING, "input": [f"sentence number {i}"]}),
    "chat-remote": ("/v1/chat/completions",
                    lambda i: {"model": REMOTE, "messages": [{"role": "user", "content": f"hi {i}"}]}),
}


async def closed_loop(urls: list[str], workload: str, seconds: float, concurrency: int) -> dict[str, Any]:
    path, body = WORKLOADS[workload]
    latencies: list[float] = []
    errors = 0
    counter = itertools.count()
    deadline = time.perf_counter() + seconds

    async def client(url: str) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                reply = await http.post(path, json=body(next(counter)))
                if reply.status_code == 200:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(client(urls[i % len(urls)]) for i in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"workload": workload, "routers": len(urls), "requests": len(latencies), "errors": errors,
            "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
            "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1) if latencies else None}


def wait_ready(url: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/ready", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} not ready after {timeout_s:g} s")


def measure(urls: list[str], phase: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for workload in WORKLOADS:
        asyncio.run(closed_loop(urls, workload, 2, args.concurrency))  # warm-up
        row = {"phase": phase, **asyncio.run(closed_loop(urls, workload, args.seconds, args.concurrency))}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


@contextmanager
def embedded(catalogue: Path, folder: Path) -> Iterator[str]:
    port = free_port()
    log = folder / "embedded.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(stellwerk(catalogue, "serve", "--models", EMBEDDING, "--port", str(port),
                                          "--database", f"sqlite:///{folder / 'embedded.db'}"),
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
                                env={**os.environ, KEY_ENV: "test-key", "PYTHONPATH": str(ROOT)})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        yield url
    finally:
        stop_router(Router(proc, "", log))


def attached_phases(catalogue: Path, folder: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with two_node_cluster(folder) as nodes:
        done = deploy(catalogue, nodes.address)
        if done.returncode != 0:
            raise SystemExit(done.stdout + done.stderr)
        database = folder / "stellwerk.db"
        routers = [start_router(catalogue, nodes.address, database, folder / f"router-{i}.log")
                   for i in (0, 1)]
        try:
            for r in routers:
                wait_ready(r.url)
            rows += measure([routers[0].url], "attached, 1 router", args)
            rows += measure([r.url for r in routers], "attached, 2 routers", args)
        finally:
            for r in routers:
                stop_router(r)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--embedded-only", action="store_true", help="only phase C")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="stw-bench-") as tmp, \
            serve_app(openai_server.create_app(expected_key="test-key")) as fake:
        folder = Path(tmp)
        catalogue = fake_remote_catalogue(folder, fake)
        if not args.embedded_only:
            rows += attached_phases(catalogue, folder, args)
        with embedded(catalogue, folder) as url:
            rows += measure([url], "embedded, 1 router", args)
    report = {"machine": f"{os.cpu_count()} cores, shared with other jobs (busy machine)",
              "seconds": args.seconds, "concurrency": args.concurrency, "rows": rows}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
