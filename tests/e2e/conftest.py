"""Start the real stack (Ray Serve + vLLM CPU + Gemma 3 270M + router) once per test session.

Set STELLWERK_E2E_URL to run the suite against a stack that is already running instead.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from models.catalogue import DEFAULT_CATALOGUE_PATH
from router.routing.config import DEFAULT_ROUTING_CONFIG_PATH
from tests.fake_providers.runner import serve_app

READY_TIMEOUT_S = float(os.environ.get("STELLWERK_E2E_READY_TIMEOUT_S", "900"))
STOP_TIMEOUT_S = 90.0
CHAT_MODEL = "gemma-3-270m"
FRONTIER_MODELS = frozenset({"openai/gpt-4.1", "gemini/gemini-3.1-pro-preview"})
EMBEDDING_MODEL = "all-minilm-l6-v2"


@dataclass(frozen=True)
class Stack:
    base_url: str
    log: Path | None
    # What a chat request got while the models were still deploying (None for an external stack).
    early_reply: httpx.Response | None = None
    # The routing configuration file the router watches, and its decision log (None: external stack).
    routing_config: Path | None = None
    decision_log: Path | None = None
    database_url: str | None = None  # the router's ledger, keys and bans
    pid: int | None = None  # `stellwerk serve`, the leader of the session its Ray and vLLM run in
    spans: Path | None = None  # every span the router and the replicas exported (tests/otlp_receiver)

    @property
    def api(self) -> str:
        return self.base_url + "/v1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> httpx.Response | None:
    """Poll /ready; on the way, send one chat request while the model is still deploying."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    early: httpx.Response | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"stellwerk serve exited with {proc.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(url + "/ready", timeout=5).status_code == 200:
                return early
            if early is None:
                early = httpx.post(url + "/v1/chat/completions", timeout=30, json={
                    "model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]})
        except httpx.HTTPError:
            pass
        time.sleep(2)
    pytest.fail(f"stack not ready after {READY_TIMEOUT_S:g} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def session_processes(sid: int) -> list[str]:
    """Processes still alive in the session the stack was started in (Ray and vLLM included)."""
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True).stdout
    alive = []
    for line in out.splitlines():
        pid, psid, stat, args = line.split(None, 3)
        if int(psid) == sid and not stat.startswith("Z") and int(pid) != os.getpid():
            alive.append(f"{pid} {args[:120]}")
    return alive


# Remote catalogue entries pointed at local fakes of their providers (tests/fake_providers), each with
# its own key variable so the real providers' entries stay unavailable and are never called.
FAKE_REMOTES = {
    "openai/gpt-4o-mini": ("openai_server", "/v1"),
    "anthropic/claude-3.5-haiku": ("anthropic_server", ""),
    # Frontier models (output price >= $6 per 1M tokens) for the value objective and frontier budgets.
    "openai/gpt-4.1": ("openai_server", "/v1"),
    "gemini/gemini-3.1-pro-preview": ("gemini_server", ""),
}
FAKE_KEY_ENV = "STELLWERK_E2E_FAKE_KEY"

# The shipped routing configuration, with a known TTFT model for the spillover test: the `cheapest`
# objective spills Gemma when base + queued * per_request > 1.5 s, i.e. from about 6 queued requests,
# and returns after 2 s once the prediction is below 1.05 s. Learning is slowed down so far that the
# hundreds of requests of the tests before it cannot move the thresholds: at 0.01 per request `base`
# converged to the suite's mean TTFT at an empty queue (long prompts, a busy 2-core CI machine), which
# once exceeded 1.05 s and kept Gemma spilling after its queue had drained. The learning itself is
# tested in tests/unit/test_routing_decision.py.
E2E_TTFT_TARGET_S = 1.5
E2E_SPILL_DWELL_S = 2.0


def e2e_routing_config() -> str:
    config = yaml.safe_load(DEFAULT_ROUTING_CONFIG_PATH.read_text())
    config["objectives"]["cheapest"]["ttft_target_s"] = E2E_TTFT_TARGET_S
    config["spillover"]["min_dwell_s"] = E2E_SPILL_DWELL_S
    config["latency"].update(learning_rate=1e-4, per_model={CHAT_MODEL: [0.4, 0.2]})
    return yaml.safe_dump(config, sort_keys=False)


@contextmanager
def _fake_provider_catalogue(folder: Path) -> Iterator[Path]:
    """A copy of the shipped catalogue whose FAKE_REMOTES call fake servers running in this process."""
    raw = yaml.safe_load(DEFAULT_CATALOGUE_PATH.read_text())
    with ExitStack() as servers:
        for entry in raw["models"]:
            if entry["id"] == CHAT_MODEL:
                # vLLM refuses every tool_choice without a tool-call parser; with one, a named tool
                # choice is decoded against the tool's schema, which a base model can do
                # (tests/e2e/test_engine_conformance.py). `capabilities.tools` stays false for `auto`.
                entry["engine"]["tool_call_parser"] = "hermes"
            if entry["id"] in FAKE_REMOTES:
                module, path = FAKE_REMOTES[entry["id"]]
                fake = importlib.import_module(f"tests.fake_providers.{module}")
                app = fake.create_app(expected_key="test-key")
                entry["remote"].update(base_url=servers.enter_context(serve_app(app)) + path,
                                       model="tool-model", api_key_env=FAKE_KEY_ENV)
        catalogue = folder / "catalogue.yaml"
        catalogue.write_text(yaml.safe_dump(raw, sort_keys=False))
        yield catalogue


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    external = os.environ.get("STELLWERK_E2E_URL")
    if external:
        yield Stack(external.rstrip("/"), None)
        return
    folder = tmp_path_factory.mktemp("stack")
    log = folder / "serve.log"
    port = _free_port()
    routing, decisions = folder / "routing.yaml", folder / "decisions.jsonl"
    database = f"sqlite:///{folder / 'stellwerk.db'}"
    routing.write_text(e2e_routing_config())
    spans, receiver_port = folder / "spans.jsonl", _free_port()
    with _fake_provider_catalogue(folder) as catalogue, _otlp_receiver(receiver_port, spans):
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "stellwerk_cli.main", "--catalogue", str(catalogue), "serve",
                 "--port", str(port), "--routing-config", str(routing), "--decision-log", str(decisions),
                 "--telemetry-interval", "0.5", "--database", database,
                 "--otel-endpoint", f"http://127.0.0.1:{receiver_port}"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                # spans are exported every 0.1 s (not 5 s), by the router and by the replicas
                env={**os.environ, FAKE_KEY_ENV: "test-key", "OTEL_BSP_SCHEDULE_DELAY": "100"})
        url = f"http://127.0.0.1:{port}"
        try:
            early = _wait_ready(url, proc, log)
            yield Stack(url, log, early, routing, decisions, database, proc.pid, spans)
        finally:
            _stop(proc, log)


@contextmanager
def _otlp_receiver(port: int, out: Path) -> Iterator[None]:
    """Our OTLP/HTTP trace receiver (tests/otlp_receiver.py), writing every span to `out`."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.otlp_receiver", "--port", str(port),
                             "--out", str(out)])
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"stellwerk serve did not stop within {STOP_TIMEOUT_S:g} s of SIGTERM:\n{_tail(log)}")
    deadline = time.monotonic() + 20
    while (left := session_processes(proc.pid)) and time.monotonic() < deadline:
        time.sleep(1)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("processes left behind after SIGTERM:\n" + "\n".join(left))


@pytest.fixture(scope="session")
def client(stack: Stack) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=stack.api, api_key="unused", max_retries=0, timeout=300) as sdk:
        yield sdk


@pytest.fixture
async def aclient(stack: Stack) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=stack.api, api_key="unused", max_retries=0, timeout=300) as sdk:
        yield sdk
