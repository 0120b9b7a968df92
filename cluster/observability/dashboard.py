"""Writes the Grafana dashboard `grafana/stellwerk.json` from the panel list below.

    python -m cluster.observability.dashboard        # rewrite the JSON after editing a panel

The JSON is committed (import it as is: Dashboards → New → Import); a test checks that it matches this
file and evaluates every panel's query against a real Prometheus scraping a router. The data source is
a template variable (`datasource`), so the dashboard works with any Prometheus data source name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DASHBOARD_PATH", "build_dashboard"]

DASHBOARD_PATH = Path(__file__).parent / "grafana" / "stellwerk.json"

_DS = {"type": "prometheus", "uid": "${datasource}"}
_RATE = "[$__rate_interval]"
_MODEL = 'model=~"$model"'


@dataclass(frozen=True)
class Panel:
    title: str
    targets: tuple[tuple[str, str], ...]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"
    description: str = ""
    stack: bool = False


def _rate(metric: str, by: str, where: str = _MODEL) -> str:
    return f"sum by ({by}) (rate({metric}{{{where}}}{_RATE}))"


def _quantiles(metric: str, by: str) -> tuple[tuple[str, str], ...]:
    return tuple((f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{{{_MODEL}}}{_RATE})))",
                  f"p{int(q * 100)} {{{{{by}}}}}") for q in (0.5, 0.95, 0.99))


_BY_KIND = ("sum by (kind) (rate(stellwerk_requests_total{" + _MODEL + "}" + _RATE + ")"
            " * on (model) group_left (kind) stellwerk_model_info)")

ROWS: tuple[tuple[str, tuple[Panel, ...]], ...] = (
    ("Traffic and errors", (
        Panel("Requests per second by model", ((_rate("stellwerk_requests_total", "model"), "{{model}}"),),
              "reqps"),
        Panel("Requests per second by provider", ((
            "sum by (provider) (rate(stellwerk_requests_total{" + _MODEL + "}" + _RATE + ")"
            " * on (model) group_left (provider) stellwerk_model_info)", "{{provider}}"),), "reqps"),
        Panel("Routing decisions by reason", ((_rate("stellwerk_route_decisions_total", "reason"),
                                               "{{reason}}"),), "reqps",
              description="model=auto decisions; `fallback` when an earlier candidate failed."),
        Panel("Errors per second by model and type", ((_rate("stellwerk_request_errors_total", "model, type"),
                                                       "{{model}} {{type}}"),), "reqps"),
        Panel("5xx ratio by model", ((
            'sum by (model) (rate(stellwerk_requests_total{status=~"5..", ' + _MODEL + "}" + _RATE + "))"
            " / sum by (model) (rate(stellwerk_requests_total{" + _MODEL + "}" + _RATE + "))",
            "{{model}}"),), "percentunit"),
        Panel("Fallbacks by model and error", ((_rate("stellwerk_route_fallbacks_total", "model, error"),
                                                "{{model}} {{error}}"),), "reqps",
              description="Attempts that failed before their first byte and moved on to the next model."),
    )),
    ("Latency", (
        Panel("Time to first token", _quantiles("stellwerk_time_to_first_token_seconds", "model"), "s"),
        Panel("Request latency (to last byte)", _quantiles("stellwerk_request_latency_seconds", "model"),
              "s"),
        Panel("Requests in flight", (("sum by (model) (stellwerk_requests_in_flight{" + _MODEL + "})",
                                      "{{model}}"),)),
    )),
    ("Tokens and cost", (
        Panel("Tokens per minute by tenant and model", ((
            "60 * sum by (tenant, model) (rate(stellwerk_tenant_tokens_total{tenant=~\"$tenant\", "
            + _MODEL + "}" + _RATE + "))", "{{tenant}} {{model}}"),), stack=True),
        Panel("Cost per minute by tenant and model", ((
            "60 * sum by (tenant, model, currency) (rate(stellwerk_tenant_cost_total{tenant=~\"$tenant\", "
            + _MODEL + "}" + _RATE + "))", "{{tenant}} {{model}} ({{currency}})"),), stack=True),
        Panel("Cost per minute by provider", ((
            "60 * sum by (provider, currency) (rate(stellwerk_cost_total{" + _MODEL + "}" + _RATE + "))",
            "{{provider}} ({{currency}})"),), stack=True),
        Panel("Local vs remote share of requests", ((
            f"{_BY_KIND} / ignoring (kind) group_left sum(rate(stellwerk_requests_total{{{_MODEL}}}{_RATE}))",
            "{{kind}}"),), "percentunit", stack=True),
        Panel("Spillover state (1: local model skipped for load)", ((
            "max by (model, objective) (stellwerk_route_spilling)", "{{model}} {{objective}}"),),
              description="1 while a local model's predicted TTFT misses the objective's target."),
    )),
    ("Engines and GPUs", (
        Panel("Engine queue: running and waiting", (
            ("sum by (model) (stellwerk_engine_requests_running{" + _MODEL + "})", "running {{model}}"),
            ("sum by (model) (stellwerk_engine_requests_waiting{" + _MODEL + "})", "waiting {{model}}"))),
        Panel("Engine KV-cache usage", (("max by (model) (stellwerk_engine_kv_cache_usage{" + _MODEL + "})",
                                         "{{model}}"),), "percentunit"),
        Panel("Replicas", (("sum by (model) (stellwerk_engine_replicas{" + _MODEL + "})", "{{model}}"),)),
        Panel("GPU utilization", (("max by (gpu) (stellwerk_gpu_utilization_percent)", "GPU {{gpu}}"),),
              "percent"),
        Panel("GPU memory used", ((
            "max by (gpu) (stellwerk_gpu_memory_used_bytes)"
            " / max by (gpu) (stellwerk_gpu_memory_total_bytes)",
            "GPU {{gpu}}"),), "percentunit"),
        Panel("GPU power", (("max by (gpu) (stellwerk_gpu_power_watts)", "GPU {{gpu}}"),), "watt"),
    )),
    ("Reliability and tenancy", (
        Panel("Circuit breakers open", (("max by (model) (stellwerk_breaker_open)", "{{model}}"),),
              description="1 while a model rests after failing several times in a row."),
        Panel("Models unhealthy for routing", (("max by (model) (stellwerk_model_unhealthy)", "{{model}}"),)),
        Panel("Refusals by tenant and reason", ((
            'sum by (tenant, reason) (rate(stellwerk_refusals_total{tenant=~"$tenant"}' + _RATE + "))",
            "{{tenant}} {{reason}}"),), "reqps",
              description="Rate limits (rate_limited), budgets (insufficient_quota), policy and bans "
                          "(model_not_allowed), sensitive data."),
        Panel("Ledger commit latency", (
            *((f"histogram_quantile({q}, sum by (le) (rate(stellwerk_ledger_commit_seconds_bucket{_RATE})))",
               f"p{int(q * 100)}") for q in (0.5, 0.99)),), "s"),
        Panel("Ledger rows by outcome", (("sum by (outcome) (rate(stellwerk_ledger_records_total" + _RATE
                                          + "))", "{{outcome}}"),), "reqps"),
        Panel("Routing configuration version", (("max(stellwerk_routing_config_version)", "version"),),
              kind="stat"),
    )),
)


def _panel(p: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    custom = {"stacking": {"mode": "normal" if p.stack else "none"}, "fillOpacity": 20 if p.stack else 0}
    defaults: dict[str, Any] = {"unit": p.unit}
    if p.kind == "timeseries":
        defaults["custom"] = custom
    return {
        "id": panel_id, "type": p.kind, "title": p.title, "description": p.description, "datasource": _DS,
        "gridPos": {"h": 8, "w": 8, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}} if p.kind == "timeseries" else {},
        "targets": [{"refId": chr(ord("A") + i), "datasource": _DS, "expr": expr, "legendFormat": legend,
                     "range": True} for i, (expr, legend) in enumerate(p.targets)],
    }


def _variable(name: str, label: str, metric: str) -> dict[str, Any]:
    return {"name": name, "label": label, "type": "query", "datasource": _DS,
            "query": {"query": f"label_values({metric}, {name})", "refId": f"{name}-values"},
            "definition": f"label_values({metric}, {name})", "refresh": 2, "includeAll": True,
            "multi": True, "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "sort": 1}


def build_dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y, next_id = 0, 1
    for row_title, row_panels in ROWS:
        panels.append({"id": next_id, "type": "row", "title": row_title, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        next_id, y = next_id + 1, y + 1
        for i, p in enumerate(row_panels):
            panels.append(_panel(p, next_id, 8 * (i % 3), y + 8 * (i // 3)))
            next_id += 1
        y += 8 * ((len(row_panels) + 2) // 3)
    return {
        "title": "Stellwerk", "uid": "stellwerk", "description": "Stellwerk router and cluster: traffic, "
        "latency, tokens and cost by tenant, spillover, engines and GPUs, breakers, refusals, ledger.",
        "tags": ["stellwerk", "llm", "inference"], "editable": True, "schemaVersion": 39, "version": 1,
        "time": {"from": "now-1h", "to": "now"}, "refresh": "10s", "timezone": "",
        "graphTooltip": 1, "annotations": {"list": []}, "links": [],
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1},
            _variable("model", "Model", "stellwerk_requests_total"),
            _variable("tenant", "Tenant", "stellwerk_tenant_requests_total"),
        ]},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build_dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    DASHBOARD_PATH.write_text(render())
    print(f"wrote {DASHBOARD_PATH}")
