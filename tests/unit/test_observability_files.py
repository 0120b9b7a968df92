"""The dashboard JSON is what `cluster/observability/dashboard.py` writes, and the alert rules pass
`promtool check rules` (Debian's prometheus package, installed by scripts/ensure_observability_tools.sh)."""

from __future__ import annotations

import json
import shutil
import subprocess

from cluster.observability.dashboard import DASHBOARD_PATH, build_dashboard, render

ALERTS = DASHBOARD_PATH.parents[1] / "prometheus" / "alerts.yaml"


def test_committed_dashboard_is_generated() -> None:
    assert DASHBOARD_PATH.read_text() == render(), \
        "regenerate it: python -m cluster.observability.dashboard"


def test_dashboard_datasource_is_a_variable() -> None:
    dashboard = build_dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    json.dumps(dashboard)


def test_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run scripts/ensure_observability_tools.sh (make test does)"
    result = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 rules found" in result.stdout
