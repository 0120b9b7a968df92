"""The Grafana dashboard and the alert rules, proven against a real Prometheus (Debian's `prometheus`,
installed by scripts/ensure_observability_tools.sh) scraping a real router process over fake engines.

Every query of every dashboard panel (read from the dashboard JSON) and every alert expression must
return data after traffic; events that create series only when they happen (fallbacks, an open
breaker, rate-limit and budget refusals, spillover, a failed ledger commit) are made to happen. Each
alert must then be pending or firing in Prometheus itself.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from cluster.observability.dashboard import DASHBOARD_PATH
from tests.observability_server import FAILING, OVERLOADED
from tests.observability_stack import RouterProcess, free_port, router_process

ALERTS_PATH = DASHBOARD_PATH.parents[1] / "prometheus" / "alerts.yaml"
# Grafana's variables as a query with "All" selected would see them.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$model": ".*", "$tenant": ".*"}


def _binary(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: run scripts/ensure_observability_tools.sh (make test does)"
    return path


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    with router_process(tmp_path_factory.mktemp("router")) as r:
        yield r


@pytest.fixture(scope="module")
def prometheus(router: RouterProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("prometheus")
    config = folder / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS_PATH)],
        "scrape_configs": [{"job_name": "stellwerk",
                            "static_configs": [{"targets": [router.url.removeprefix("http://")]}]}],
    }))
    port = free_port()
    log = folder / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([_binary("prometheus"), f"--config.file={config}",
                                 f"--storage.tsdb.path={folder / 'data'}",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _query(url, 'up{job="stellwerk"} == 1'), 60,
                  lambda: f"Prometheus did not scrape the router:\n{log.read_text()[-3000:]}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_for(check: Any, timeout_s: float, message: Any) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, ValueError):  # not listening yet, or not ready (a plain-text 503)
            pass
        time.sleep(0.5)
    raise AssertionError(message())


def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    reply = httpx.get(prometheus + "/api/v1/query", params={"query": expr}, timeout=10)
    body = reply.json()
    assert body.get("status") == "success", f"{expr}\n  → {body.get('error')}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _traffic(router: RouterProcess) -> None:
    """Requests that exercise every series the dashboard and the alerts read."""
    for i in range(12):  # auto: gemma fails → fallback; its breaker opens; llama spills over
        reply = router.chat("acme", stream=i % 2 == 1)
        assert reply.status_code == 200, reply.text
    for model in ("openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"):
        assert router.chat("acme", model).status_code == 200
    assert router.chat("acme", FAILING).status_code == 502  # a named failing model: a 5xx
    assert router.chat("tight", "openai/gpt-4o-mini").status_code == 200
    assert router.chat("tight", "openai/gpt-4o-mini").json()["error"]["code"] == "rate_limited"
    assert router.chat("broke", "openai/gpt-4o-mini").status_code == 200
    assert router.chat("broke", "openai/gpt-4o-mini").json()["error"]["code"] == "insufficient_quota"


def _more_traffic(router: RouterProcess) -> None:
    """The same kinds of events again after Prometheus has seen the series: rate() counts only
    increases between two scrapes, never a series' first value."""
    for i in range(4):
        assert router.chat("acme", stream=i % 2 == 1).status_code == 200
    assert router.chat("acme", FAILING).status_code == 502
    assert router.chat("tight", "openai/gpt-4o-mini").status_code == 429
    assert router.chat("broke", "openai/gpt-4o-mini").status_code == 429


def _scraped_after(prometheus: str, seconds: float) -> None:
    """Wait until Prometheus has scraped the router `seconds` after now."""
    after = time.time() + seconds
    _wait_for(lambda: _query(prometheus, f'timestamp(up{{job="stellwerk"}} == 1) > {after}'), 30,
              lambda: "Prometheus stopped scraping the router")


def _break_the_ledger(router: RouterProcess) -> None:
    """Drop the ledger table under the running router: its next commits fail (and are retried)."""
    with sqlite3.connect(router.database) as db:
        # Refusals are recorded without waiting: let the last one commit first.
        _wait_for(lambda: db.execute("SELECT COUNT(*) FROM ledger WHERE error_type = 'insufficient_quota'")
                  .fetchone()[0], 10, lambda: "the budget refusal never reached the ledger")
        db.execute("DROP TABLE ledger")
    reply = router.chat("acme", "openai/gpt-4o-mini")
    assert reply.status_code >= 500, reply.text  # the answer waits for its ledger row, which fails


def _dashboard_queries() -> list[tuple[str, str]]:
    queries = []
    for panel in json.loads(DASHBOARD_PATH.read_text())["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(name, value)
            assert "$" not in expr, f"panel {panel['title']!r}: a variable the test does not know: {expr}"
            queries.append((panel["title"], expr))
    return queries


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS_PATH.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_panel_and_alert_has_data(router: RouterProcess, prometheus: str) -> None:
    _traffic(router)
    _scraped_after(prometheus, 0.2)
    _more_traffic(router)
    _break_the_ledger(router)
    _wait_for(lambda: _query(prometheus, 'stellwerk_ledger_records_total{outcome="failed"} > 0'), 60,
              lambda: f"Prometheus never saw the failed ledger commit; router log:\n{router.tail()}")
    _scraped_after(prometheus, 1.2)  # every series has two samples after its last event
    queries = _dashboard_queries()
    assert len(queries) >= 25, "the dashboard lost panels"
    empty = [f"{title}: {expr}" for title, expr in queries if not _query(prometheus, expr)]
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)

    rules = _alerts()
    assert {r["alert"] for r in rules} >= {"StellwerkHighErrorRatio", "StellwerkSpillStuckOn",
                                            "StellwerkLedgerFailing", "StellwerkModelUnhealthy"}
    quiet = [f"{r['alert']}: {r['expr']}" for r in rules if not _query(prometheus, r["expr"])]
    assert not quiet, "alert expressions that do not fire:\n" + "\n".join(quiet)

    def all_active() -> bool:
        active = httpx.get(prometheus + "/api/v1/alerts", timeout=10).json()["data"]["alerts"]
        return {a["labels"]["alertname"] for a in active} >= {r["alert"] for r in rules}

    _wait_for(all_active, 30, lambda: "alerts not pending or firing in Prometheus: " + json.dumps(
        httpx.get(prometheus + "/api/v1/rules", timeout=10).json()["data"], indent=1)[:4000])
    spilling = _query(prometheus, "stellwerk_route_spilling == 1")
    assert {s["metric"]["model"] for s in spilling} == {OVERLOADED}
    unhealthy = _query(prometheus, "stellwerk_breaker_open == 1")
    assert {s["metric"]["model"] for s in unhealthy} == {FAILING}
    refusals = {(s["metric"]["tenant"], s["metric"]["reason"])
                for s in _query(prometheus, "stellwerk_refusals_total")}
    assert refusals >= {("tight", "rate_limited"), ("broke", "insufficient_quota")}
