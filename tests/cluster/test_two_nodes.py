"""Cluster mode on a real two-node Ray cluster on this host (no mocks of Ray).

`stellwerk deploy` applies the rendered Serve config: the embedding model's pool lands on the worker
node (the only one with the `worker_node` resource). Two routers attach with `stellwerk serve --attach`
and serve traffic from the official SDK — embeddings through Ray to the worker node, chat to a fake
remote provider; a provider that fails on one router opens its breaker on both (shared through their
database); one router is killed with SIGKILL mid-traffic and the other keeps serving, and every chat
answer a client received is in the shared ledger.

Heavy (Ray nodes, a model replica, two routers): run under the machine's lock with `make test-cluster`.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from models.catalogue import DEFAULT_CATALOGUE_PATH
from tests.cluster.ray_nodes import (
    ROOT,
    RayNodes,
    free_port,
    ray_env,
    session_processes,
    stop_session,
    two_node_cluster,
)
from tests.fake_providers import openai_server
from tests.fake_providers.runner import serve_app

EMBEDDING = "all-minilm-l6-v2"
REMOTE = "openai/gpt-4o-mini"
FAILING = "openai/gpt-4.1"  # pointed at the fake provider's "server-error" model: every call is a 500
KEY_ENV = "STELLWERK_CLUSTER_FAKE_KEY"
READY_TIMEOUT_S = 300.0


@dataclass
class Router:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path


@dataclass
class Cluster:
    nodes: RayNodes
    catalogue: Path
    database: Path
    routers: list[Router]
    deploy_output: str


def stellwerk(catalogue: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "stellwerk_cli.main", "--catalogue", str(catalogue), *args]


def fake_remote_catalogue(folder: Path, base_url: str) -> Path:
    raw = yaml.safe_load(DEFAULT_CATALOGUE_PATH.read_text())
    for entry in raw["models"]:
        if entry["id"] == REMOTE:
            entry["remote"].update(base_url=base_url + "/v1", model="tool-model", api_key_env=KEY_ENV)
        if entry["id"] == FAILING:
            entry["remote"].update(base_url=base_url + "/v1", model="server-error", api_key_env=KEY_ENV)
    path = folder / "catalogue.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def deploy(catalogue: Path, address: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(stellwerk(catalogue, "deploy", "--ray-address", address, "--models", EMBEDDING,
                                    "--node-resource", "worker_node", "--timeout", "240"),
                          capture_output=True, text=True, env=ray_env(), cwd=ROOT, timeout=300, check=False)


def start_router(catalogue: Path, address: str, database: Path, log: Path) -> Router:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            stellwerk(catalogue, "serve", "--attach", address, "--port", str(port),
                      "--database", f"sqlite:///{database}", "--telemetry-interval", "0.5"),
            stdout=out, stderr=subprocess.STDOUT, env={**ray_env(), KEY_ENV: "test-key"}, cwd=ROOT,
            start_new_session=True)
    return Router(proc, f"http://127.0.0.1:{port}", log)


def stop_router(router: Router) -> None:
    """SIGTERM (a graceful drain), SIGKILL after 60 s, then whatever its session left behind."""
    if router.proc.poll() is None:
        router.proc.send_signal(signal.SIGTERM)
        try:
            router.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            router.proc.kill()
    stop_session(router.proc.pid, grace_s=5)


def wait_ready(router: Router, path: str = "/ready") -> None:
    """Until the router answers `path` with 200 (`/health` for a router whose /ready is false while a
    pool has no replica)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if router.proc.poll() is not None:
            pytest.fail(f"router exited with {router.proc.returncode}:\n{router.log.read_text()[-3000:]}")
        try:
            if httpx.get(router.url + path, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"router not answering {path} after {READY_TIMEOUT_S:g} s:\n{router.log.read_text()[-3000:]}")


def worker_resource(address: str) -> dict[str, float]:
    """The worker_node resource in total and free, as Ray accounts it (read by a separate driver)."""
    script = ("import json, sys, ray; ray.init(address=sys.argv[1], log_to_driver=False); "
              "print(json.dumps({'total': ray.cluster_resources().get('worker_node', 0.0), "
              "'free': ray.available_resources().get('worker_node', 0.0)})); ray.shutdown()")
    done = subprocess.run([sys.executable, "-c", script, address], capture_output=True, text=True,
                          env=ray_env(),
                          cwd=ROOT, timeout=120, check=True)
    reading: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return reading


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("cluster")
    with serve_app(openai_server.create_app(expected_key="test-key")) as fake, \
            two_node_cluster(folder) as nodes:
        catalogue = fake_remote_catalogue(folder, fake)
        done = deploy(catalogue, nodes.address)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        database = folder / "stellwerk.db"
        routers = [start_router(catalogue, nodes.address, database, folder / f"router-{i}.log")
                   for i in (0, 1)]
        try:
            for router in routers:
                wait_ready(router)
            yield Cluster(nodes, catalogue, database, routers, done.stdout)
        finally:
            for router in routers:
                stop_router(router)


def test_deploy_puts_the_pool_on_the_worker_node_and_a_second_deploy_changes_nothing(
        cluster: Cluster) -> None:
    assert "llm-all-minilm-l6-v2" in cluster.deploy_output
    assert "every application is RUNNING" in cluster.deploy_output
    reading = worker_resource(cluster.nodes.address)
    assert reading["total"] == 1.0
    assert reading["free"] == pytest.approx(0.99)  # one replica holds 0.01 of the worker's resource

    again = deploy(cluster.catalogue, cluster.nodes.address)

    assert again.returncode == 0, again.stderr[-3000:]
    assert worker_resource(cluster.nodes.address)["free"] == pytest.approx(0.99)  # same single replica


def test_a_breaker_opened_by_one_router_is_open_on_the_other(cluster: Cluster) -> None:
    """Router A sees the provider fail `failure_threshold` (3) times and opens its breaker; router B,
    which never called it, reports it unhealthy too (`auto` skips it) once the shared state reaches it."""
    a, b = cluster.routers
    body = {"model": FAILING, "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(3):
        assert httpx.post(a.url + "/v1/chat/completions", json=body, timeout=60).status_code >= 500

    def unhealthy(router: Router) -> bool:
        models = httpx.get(router.url + "/status", timeout=10).json()["routing"]["models"]
        return models[FAILING]["unhealthy"] is not None

    assert unhealthy(a)
    wait_for(lambda: unhealthy(b), 60, "router B saw router A's open breaker")


def test_two_attached_routers_serve_and_one_killed_leaves_the_other_serving(cluster: Cluster) -> None:
    a, b = cluster.routers
    clients = {r.url: openai.OpenAI(base_url=r.url + "/v1", api_key="unused", max_retries=0, timeout=60)
               for r in (a, b)}
    answered: dict[str, int] = {a.url: 0, b.url: 0}
    failed_after_kill: dict[str, int] = {a.url: 0, b.url: 0}
    killed = threading.Event()
    lock = threading.Lock()

    def one(i: int) -> None:
        router = (a, b)[i % 2]
        client = clients[router.url]
        try:
            if i % 4 < 2:
                reply = client.embeddings.create(model=EMBEDDING, input=[f"sentence number {i}"])
                assert len(reply.data[0].embedding) == 384
            else:
                chat = client.chat.completions.create(model=REMOTE,
                                                      messages=[{"role": "user", "content": "hi"}])
                assert chat.choices[0].message.content
                with lock:
                    answered[router.url] += 1
        except openai.APIConnectionError:
            assert killed.is_set() and router is a, f"router {router.url} failed"
            with lock:
                failed_after_kill[router.url] += 1

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, range(16)))  # both routers serve
        futures = [pool.submit(one, i) for i in range(16, 48)]
        time.sleep(0.3)
        killed.set()
        a.proc.send_signal(signal.SIGKILL)  # mid-traffic
        for f in futures:
            f.result()
        list(pool.map(one, range(49, 81, 2)))  # only router b from now on (odd numbers)

    assert a.proc.wait(timeout=10) == -signal.SIGKILL
    assert failed_after_kill[b.url] == 0
    assert answered[b.url] >= 12
    with sqlite3.connect(cluster.database) as db:
        (rows,) = db.execute("SELECT COUNT(*) FROM ledger WHERE endpoint = 'chat' AND status = 200"
                             ).fetchone()
    # Every chat answer a client received was committed before its last byte (the killed router may
    # also have committed one whose answer never arrived).
    assert rows >= answered[a.url] + answered[b.url]
    assert httpx.get(b.url + "/ready", timeout=10).status_code == 200


PROBE = '''
import json, sys, time
import ray
from ray import serve
from ray.serve.config import RequestRouterConfig

ray.init(address=sys.argv[1], log_to_driver=False)


@serve.deployment(num_replicas=2, ray_actor_options={"num_cpus": 0, "resources": {"worker_node": 0.01}},
                  request_router_config=RequestRouterConfig(request_router_class=sys.argv[2],
                                                            request_routing_stats_period_s=0.5))
class Probe:
    def __init__(self):
        self.calls = 0

    async def record_routing_stats(self):
        return {"running": 1.0, "waiting": 2.0, "kv_cache_usage": None}

    async def ping(self):
        return "pong"


handle = serve.run(Probe.bind(), name="stats-probe", route_prefix=None)
from serving.pool_stats import POOL_STATS

totals, deadline = None, time.time() + 90
while time.time() < deadline:
    assert handle.ping.remote().result() == "pong"
    totals = POOL_STATS.totals("Probe")
    if totals is not None and totals.replicas == 2:
        break
    time.sleep(0.5)
serve.delete("stats-probe")
print(json.dumps(None if totals is None else [totals.running, totals.waiting, totals.replicas]))
'''


@pytest.mark.parametrize("router_path", ["serving.replica_router:PoolStatsRouter"])
def test_every_replica_s_queue_reaches_the_handle_s_process(cluster: Cluster, router_path: str) -> None:
    """Serve asks each replica for `record_routing_stats` and pushes the results to the handle, where
    Stellwerk's request router records them: the pool's whole queue without a call of our own."""
    done = subprocess.run([sys.executable, "-c", PROBE, cluster.nodes.address, router_path],
                          capture_output=True, text=True, env=ray_env(), cwd=ROOT, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [2, 4, 2]


SCALING_POOL = '''
import sys, time
import ray
from ray import serve

ray.init(address=sys.argv[1], log_to_driver=False)


@serve.deployment(name=sys.argv[2], ray_actor_options={"num_cpus": 0, "resources": {"worker_node": 0.01}},
                  autoscaling_config={"min_replicas": 0, "initial_replicas": 0, "max_replicas": 1,
                                      "upscale_delay_s": 0, "downscale_delay_s": 600})
class StartsSlowly:
    """A chat pool that scales from zero, speaking the handle protocol of Stellwerk's chat replicas
    (`chat_deltas` streaming batches of typed deltas, `engine_stats`, `check_health`); no model
    behind it."""

    def __init__(self):
        time.sleep(5)  # a replica's start-up

    async def chat_deltas(self, body, trace_headers=None):
        from serving.engine import ChatChunk

        yield [ChatChunk(text="from the pool", role="assistant", finish_reason="stop")]

    async def engine_stats(self):  # what serving.llm_server replies
        return {"unfinished": 0.0, "running": 0.0, "waiting": 0.0, "kv_cache_usage": None, "ready": 1.0}

    async def check_health(self):
        return None


serve.run(StartsSlowly.bind(), name=sys.argv[2], route_prefix=None)
'''


def test_a_pool_scaling_from_zero_serves_auto_remotely_meanwhile_and_local_only_after_a_wait(
        cluster: Cluster) -> None:
    """A chat pool with no replica (min_replicas 0) and a router attached to it: `auto` is answered
    by an allowed remote model at once; a request that only a local model may serve (`local-only`)
    is not refused: it wakes the pool, waits for the replica Serve starts, and is answered by it;
    then `auto` comes back to the local pool."""
    app = "llm-gemma-3-270m"
    done = subprocess.run([sys.executable, "-c", SCALING_POOL, cluster.nodes.address, app],
                          capture_output=True, text=True, env=ray_env(), cwd=ROOT, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    router = start_router(cluster.catalogue, cluster.nodes.address, cluster.database,
                          cluster.catalogue.parent / "router-scaling.log")
    try:
        wait_ready(router, "/health")
        wait_for(lambda: "no ready replica" in str(httpx.get(router.url + "/status", timeout=10).json()
                                                   ["engines"].get("gemma-3-270m")),
                 60, "the router saw the pool with no replica")
        body = {"model": "auto", "messages": [{"role": "user", "content": "hi there"}]}
        meanwhile = httpx.post(router.url + "/v1/chat/completions", json=body, timeout=60)
        assert meanwhile.status_code == 200, meanwhile.text + "\n" + router.log.read_text()[-4000:]
        print("auto while the pool is empty:", meanwhile.headers["x-stellwerk-model"],
              meanwhile.headers.get("x-stellwerk-route"))
        assert meanwhile.headers["x-stellwerk-model"] == REMOTE
        started = time.monotonic()
        reply = httpx.post(router.url + "/v1/chat/completions", json=body, timeout=120,
                           headers={"x-stellwerk-objective": "local-only", "x-stellwerk-max-wait": "90"})
        print(f"local-only answered after {time.monotonic() - started:.0f} s (pool started from zero)")
        assert reply.status_code == 200, reply.text + "\n" + router.log.read_text()[-4000:]
        assert reply.headers["x-stellwerk-model"] == "gemma-3-270m"
        assert reply.json()["choices"][0]["message"]["content"] == "from the pool"
        wait_for(lambda: "no ready replica" not in str(httpx.get(router.url + "/status", timeout=10).json()
                                                       ["engines"].get("gemma-3-270m")),
                 60, "the router saw the pool's replica")
        back = httpx.post(router.url + "/v1/chat/completions", json=body, timeout=60)
        print("auto once the replica runs:", back.headers.get("x-stellwerk-model"),
              back.headers.get("x-stellwerk-route"))
        assert back.status_code == 200 and back.headers["x-stellwerk-model"] == "gemma-3-270m", back.text
    finally:
        stop_router(router)


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll `check` until it holds; returns the seconds it took (printed, never a threshold)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"{what} (waited {timeout_s:g} s)")
        time.sleep(1)
    took = time.monotonic() - start
    print(f"{what}: {took:.0f} s")
    return took


def test_losing_the_worker_node_fails_cleanly_and_the_pool_returns_with_a_node(
        cluster: Cluster) -> None:
    """Kill the worker node's raylet: embeddings answer 503 with Retry-After (the pool has no node to
    run on), remote chat keeps working; a new worker node joins and Serve puts the pool back."""
    router = next(r for r in cluster.routers if r.proc.poll() is None)
    sdk = openai.OpenAI(base_url=router.url + "/v1", api_key="unused", max_retries=0, timeout=20)
    worker_session = cluster.nodes.sessions[1]
    raylets = [pid for pid in session_processes(worker_session) if b"raylet" in _cmdline(pid)]
    assert raylets, "the worker node's raylet was not found"
    for pid in raylets:
        os.kill(pid, signal.SIGKILL)

    refusals: list[httpx.Response] = []

    def refused() -> bool:
        try:
            reply = httpx.post(router.url + "/v1/embeddings", json={"model": EMBEDDING, "input": ["x"]},
                               timeout=30)
        except httpx.TimeoutException:  # queued in the handle while Serve notices: not an answer yet
            return False
        if reply.status_code == 503:
            refusals.append(reply)
        return bool(refusals)

    wait_for(refused, 180, "embeddings answered 503 after the worker node was lost")
    assert refusals[0].headers.get("retry-after")
    chat = sdk.chat.completions.create(model=REMOTE, messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content  # the remote model does not depend on the node

    cluster.nodes.start_node(f"--address={cluster.nodes.address}", "--num-cpus=1",
                             '--resources={"worker_node": 1}', name="worker-again")

    def served() -> bool:
        try:
            return len(sdk.embeddings.create(model=EMBEDDING, input=["back"]).data[0].embedding) == 384
        except (openai.APIStatusError, openai.APITimeoutError):
            return False

    wait_for(served, 300, "embeddings were served again after a worker node joined")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
