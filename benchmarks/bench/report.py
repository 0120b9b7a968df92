"""The Markdown report: every number is read from the results JSON (so the two cannot disagree), the
plots are embedded by relative path, and the metric definitions are stated.

Numbers are written with `fmt` (two decimals; "n/a" for a missing value) and shares with `pct` (one decimal,
in percent), which the tests use to check the report against the JSON.
"""

from __future__ import annotations

import shlex
from typing import Any

from benchmarks.bench.plots import PLOTS

__all__ = ["fmt", "pct", "render_report"]

_LATENCIES = (("ttft_ms", "TTFT"), ("itl_ms", "ITL"), ("tpot_ms", "TPOT"), ("e2e_ms", "E2E"))


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows), ""]


def render_report(results: dict[str, Any], plots_folder: str = "plots") -> str:
    """The whole report as Markdown."""
    config, steps = results["config"], results["steps"]
    lines = [f"# `stellwerk bench`: {config['model']} at {config['url']}", ""]
    lines += _setup(results)
    lines += ["## Throughput, errors and goodput", ""]
    lines += _table(
        ["step", "requests", "completed", "failed", "error rate", "duration (s)", "requests/s",
         "output tokens/s", "mean input tokens", "mean output tokens", "goodput (req/s)", "meeting SLO",
         "sent req/s"],
        [[s["label"], str(m["requests"]), str(m["completed"]), str(m["failed"]), pct(m["error_rate"]),
          fmt(m["duration_s"]), fmt(m["request_throughput"]), fmt(m["output_throughput"]),
          fmt(m["mean_input_tokens"]), fmt(m["mean_output_tokens"]), fmt(m["goodput"]), pct(m["good_share"]),
          fmt(m["send_rate"])]
         for s in steps for m in [s["summary"]]])
    lines += _notes(steps)
    lines += ["## Latency (ms)", ""]
    lines += _table(["step", "metric", "mean", "p50", "p90", "p99", "samples"],
                    [[s["label"], name, *(fmt(d[k]) for k in ("mean", "p50", "p90", "p99")), str(d["count"])]
                     for s in steps for key, name in _LATENCIES for d in [s["summary"][key]]])
    lines += ["## Plots", ""]
    lines += [f"![{caption}]({plots_folder}/{name})\n" for name, caption in PLOTS.items()]
    lines += _comparison(results.get("comparison"))
    lines += ["## Definitions", "", results["definitions"], ""]
    return "\n".join(lines)


def _notes(steps: list[dict[str, Any]]) -> list[str]:
    """Errors by status, and whether the load generator kept to its schedule."""
    errors = [f"- {s['label']}: " + ", ".join(f"{k}: {v}" for k, v in by_status.items())
              for s in steps if (by_status := s["summary"]["errors_by_status"])]
    lines = ["Errors by status:", "", *errors, ""] if errors else ["No request failed.", ""]
    lags = [f"{s['label']}: {fmt(lag)} ms" for s in steps
            if (lag := s["summary"]["max_send_lag_ms"]) is not None]
    if lags:
        lines += ["Load generator check, the latest a request left after its planned time (large values "
                  "mean the generator, not the server, limited the rate): " + "; ".join(lags) + ".", ""]
    return lines


def _setup(results: dict[str, Any]) -> list[str]:
    config, machine, slo = results["config"], results["machine"], results["slo"]
    slo_text = ", ".join(f"{k.removesuffix('_ms').upper()} <= {v:g} ms"
                         for k, v in slo.items() if v is not None)
    gpus = ", ".join(machine.get("gpus") or []) or "none"
    return [
        f"- Started {results['started_at']}; command: `{shlex.join(results['command'])}`",
        f"- Load generator machine: {machine['processor']}, {machine['cpus']} CPUs, "
        f"{machine['memory_gib']} GiB, GPUs: {gpus}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in machine['load_average'])}",
        f"- Prompts: {config['prompts']}; output tokens: {config['output_tokens']}; "
        f"ignore_eos: {config['ignore_eos']}; seed {config['seed']}",
        f"- Load: {config['load']}; each step bounded by {config['bounds']}",
        f"- SLO for goodput: {slo_text or 'none given (every successful request counts)'}",
        "",
    ]


def _comparison(comparison: dict[str, Any] | None) -> list[str]:
    if not comparison:
        return []
    lines = [f"## Comparison with {comparison['tool']}", "", comparison["note"], ""]
    if comparison.get("error"):
        return [*lines, f"The comparison did not run: {comparison['error']}", ""]
    for step in comparison["steps"]:
        lines += [f"### {step['label']}", ""]
        lines += _table(["metric", "stellwerk bench", comparison["tool"], "difference"],
                        [[r["metric"], fmt(r["ours"]), fmt(r["peer"]), pct(r["relative_difference"])]
                         for r in step["rows"]])
    return lines
