"""The overhead benchmark's results: one JSON document, a Markdown report and a PNG plot drawn from it.

The Markdown and the plot are rendered from the JSON document only, so the report's numbers are the
JSON's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.overhead.stats import StepSummary, SustainCriteria, added_latency, max_sustained
from benchmarks.overhead.sweep import DIRECT, StepRecord

__all__ = ["build_document", "render_markdown", "render_plot", "targets_check"]

# Issue #14's targets for one router process on one core.
TARGET_ADDED_P99_MS = 2.0  # added p99 at every non-streaming rate up to ...
TARGET_ADDED_UP_TO = 300.0
TARGET_RATE = 500.0  # sustained non-streaming requests/s
TARGET_STREAMS = 300.0  # sustained streams/s
TARGET_PEER_FACTOR = 20.0  # times the peer's sustained non-streaming rate
TARGET_CPU_MS = 1.0  # CPU per non-streaming request (median over the sustained steps)


def _added_rows(records: Sequence[StepRecord]) -> list[dict[str, Any]]:
    direct = {(r.summary.mode, r.summary.offered_rate): r.summary for r in records
              if r.summary.target == DIRECT}
    rows = []
    for r in records:
        s = r.summary
        base = direct.get((s.mode, s.offered_rate))
        if s.target == DIRECT or base is None:
            continue
        rows.append({"target": s.target, "mode": s.mode, "rate": s.offered_rate, **added_latency(s, base)})
    return rows


def _sustained(records: Sequence[StepRecord],
               criteria: SustainCriteria) -> dict[str, dict[str, float | None]]:
    by: dict[str, dict[str, list[StepSummary]]] = {}
    for r in records:
        by.setdefault(r.summary.mode, {}).setdefault(r.summary.target, []).append(r.summary)
    return {mode: {t: max_sustained(steps, criteria) for t, steps in targets.items()}
            for mode, targets in by.items()}


def targets_check(added: Sequence[dict[str, Any]], sustained: dict[str, dict[str, float | None]],
                  cpu_ms: Sequence[float] = (), gateway: str = "stellwerk",
                  peer: str = "litellm") -> dict[str, bool | None]:
    """Issue #14's targets, each True/False (None when the run lacks the data). `cpu_ms`: the gateway's
    CPU ms per request in its sustained non-streaming steps."""
    low = [a for a in added if a["target"] == gateway and a["mode"] == "non-streaming"
           and a["rate"] <= TARGET_ADDED_UP_TO]
    rates, streams = sustained.get("non-streaming", {}), sustained.get("streaming", {})
    ours, peer_rate = rates.get(gateway), rates.get(peer)
    cpu = sorted(cpu_ms)
    return {
        "added_p99_at_most_2ms_up_to_300": (None if not low else all(
            a["p99_ms"] <= TARGET_ADDED_P99_MS for a in low)
            and max(a["rate"] for a in low) >= TARGET_ADDED_UP_TO),
        "sustains_500_non_streaming": None if gateway not in rates else (ours or 0) >= TARGET_RATE,
        "sustains_300_streams": None if gateway not in streams else (streams[gateway] or 0) >= TARGET_STREAMS,
        "at_least_20x_peer": (None if peer not in rates or gateway not in rates
                              else (ours or 0) >= TARGET_PEER_FACTOR * (peer_rate or 0) and bool(ours)),
        "cpu_at_most_1ms_per_request": None if not cpu else cpu[len(cpu) // 2] <= TARGET_CPU_MS,
    }


def _sustained_cpu(records: Sequence[StepRecord], criteria: SustainCriteria, gateway: str) -> list[float]:
    return [r.cpu_ms_per_request[gateway] for r in records
            if r.summary.target == gateway and r.summary.mode == "non-streaming"
            and r.summary.sustains(criteria) and gateway in r.cpu_ms_per_request]


def build_document(records: Sequence[StepRecord], criteria: SustainCriteria, *, machine: dict[str, Any],
                   config: dict[str, Any], profiles: list[dict[str, Any]]) -> dict[str, Any]:
    added = _added_rows(records)
    sustained = _sustained(records, criteria)
    steps = [{**r.summary.to_json(criteria), "cpu_ms_per_request": r.cpu_ms_per_request, "refine": r.refine}
             for r in records]
    targets = targets_check(added, sustained, _sustained_cpu(records, criteria, "stellwerk"))
    return {"machine": machine, "config": config, "criteria": criteria.__dict__, "steps": steps,
            "added": added, "max_sustained": sustained, "targets": targets,
            "profiles": profiles}


def _ms(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def _rate(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def _mode_table(doc: dict[str, Any], mode: str, gateways: list[str]) -> list[str]:
    steps = [s for s in doc["steps"] if s["mode"] == mode and not s["refine"]]
    rates = sorted({s["offered_rate"] for s in steps})
    head = "| rate | direct p50 / p99 | " + " | ".join(
        f"{g} added p50 / p99 | {g} achieved | {g} CPU ms/req" for g in gateways) + " |"
    lines = [head, "|" + "---|" * (2 + 3 * len(gateways))]
    for rate in rates:
        direct = next((s for s in steps if s["target"] == DIRECT and s["offered_rate"] == rate), None)
        cells = [f"{rate:g}", "-" if direct is None else f"{_ms(direct['p50_ms'])} / {_ms(direct['p99_ms'])}"]
        for g in gateways:
            step = next((s for s in steps if s["target"] == g and s["offered_rate"] == rate), None)
            add = next((a for a in doc["added"] if a["target"] == g and a["mode"] == mode
                        and a["rate"] == rate), None)
            if step is None or add is None:
                cells += ["not run (failed lower rates)", "-", "-"]
                continue
            mark = "" if step["sustained"] else " ✗"
            cells += [f"{_ms(add['p50_ms'])} / {_ms(add['p99_ms'])}", f"{step['achieved_rate']:.0f}{mark}",
                      _ms(step["cpu_ms_per_request"].get(g))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _generator_lines(doc: dict[str, Any]) -> list[str]:
    lines = ["| mode | rate | direct achieved | direct p99 ms | generator lag p99 / max ms | "
             "generator CPU ms/req | fake CPU ms/req |", "|---|---|---|---|---|---|---|"]
    for s in doc["steps"]:
        if s["target"] == DIRECT:
            cpu = s["cpu_ms_per_request"]
            lines.append(f"| {s['mode']} | {s['offered_rate']:g} | {s['achieved_rate']:.0f} | "
                         f"{_ms(s['p99_ms'])} | {_ms(s['lag_p99_ms'])} / {_ms(s['lag_max_ms'])} | "
                         f"{_ms(cpu.get('loadgen'))} | {_ms(cpu.get('fake'))} |")
    return lines


def _profile_lines(profiles: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for p in profiles:
        lines += [f"### {p['target']}, {p['mode']}, {p['rate']:g} req/s offered", "",
                  f"{p['samples']} samples; the process was busy {p['busy_pct']:.0f} % of the time; "
                  f"{_ms(p.get('cpu_ms_per_request'))} CPU ms per request.", "",
                  "| component (leaf frame) | share % |", "|---|---|"]
        lines += [f"| {name} | {share:.1f} |" for name, share in p["components"]]
        lines += ["", "| function (self time) | share % |", "|---|---|"]
        lines += [f"| `{name}` | {share:.1f} |" for name, share in p["top_self"]]
        lines += ["", "| function (inclusive) | share % |", "|---|---|"]
        lines += [f"| `{name}` | {share:.1f} |" for name, share in p["top_inclusive"]]
        lines.append("")
    return lines


def render_markdown(doc: dict[str, Any], plot_name: str | None) -> str:
    gateways = sorted({s["target"] for s in doc["steps"] if s["target"] != DIRECT},
                      key=lambda g: (g != "stellwerk", g))
    m, c, crit = doc["machine"], doc["config"], doc["criteria"]
    lines = ["# Router overhead: Stellwerk vs the LiteLLM proxy in front of a fast fake upstream", "",
             f"Machine: {m['cpu_model']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, shared with other "
             f"engineers' work (load average {m['loadavg_before']} before, {m['loadavg_after']} after). "
             f"Placement: {m['placement']}. Python {m['python']}. "
             f"LiteLLM {m.get('litellm_version', 'not run')}.",
             "",
             f"Each step offers a constant open-loop rate for {c['duration_s']:g} s after "
             f"{c['warmup_s']:g} s of warm-up; targets are interleaved at each rate. Latency is measured "
             "from the moment the generator sends to the end of the answer (streaming: the `[DONE]` "
             "event). **Added** = gateway "
             "percentile - direct-to-fake percentile at the same rate in this run. A rate is **sustained** "
             "when achieved ≥ "
             f"{crit['min_ratio'] * 100:.0f} % of offered, errors ≤ {crit['max_error_rate'] * 100:g} % and "
             f"p99 ≤ {crit['p99_bound_ms']:g} ms (✗ marks a step that did not). CPU ms/req: the process "
             "tree's CPU time during the step / requests sent.", ""]
    for mode in c["modes"]:
        lines += [f"## {mode}: added latency (ms) by offered rate (req/s)", ""]
        lines += [*_mode_table(doc, mode, gateways), ""]
    lines += ["## Highest sustained rate per process (req/s)", "", "| mode | " + " | ".join(
        [DIRECT, *gateways]) + " |", "|---|" + "---|" * (1 + len(gateways))]
    for mode, rates in doc["max_sustained"].items():
        lines.append(f"| {mode} | " + " | ".join(_rate(rates.get(t)) for t in [DIRECT, *gateways]) + " |")
    lines += ["", "(Bisection steps between the last sustained and first failed ladder rate count here.)", "",
              "## Issue #14's targets (one router process on one core)", ""]
    lines += [f"- {name}: **{'met' if ok else 'not met' if ok is not None else 'not measured'}**"
              for name, ok in doc["targets"].items()]
    lines += ["", "## Is the load generator the bottleneck? (direct-to-fake steps)", ""]
    lines += [*_generator_lines(doc), ""]
    if plot_name:
        lines += [f"![added latency vs rate]({plot_name})", ""]
    if doc["profiles"]:
        lines += ["## Profiles (py-spy, separate steps; not part of the tables above)", ""]
        lines += _profile_lines(doc["profiles"])
    return "\n".join(lines) + "\n"


def render_plot(doc: dict[str, Any], path: Path) -> None:
    """Added p50 and p99 latency vs offered rate, one panel per mode (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = doc["config"]["modes"]
    fig, axes = plt.subplots(1, len(modes), figsize=(6 * len(modes), 4.5), squeeze=False)
    for ax, mode in zip(axes[0], modes, strict=True):
        rows = [a for a in doc["added"] if a["mode"] == mode]
        for target in sorted({a["target"] for a in rows}):
            mine = sorted((a for a in rows if a["target"] == target), key=lambda a: a["rate"])
            for key, style in (("p50_ms", "o-"), ("p99_ms", "s--")):
                points = [(a["rate"], max(a[key], 0.01)) for a in mine  # log axis: clamp noise below 0
                          if a[key] is not None]
                if points:
                    ax.plot(*zip(*points, strict=True), style, label=f"{target} {key.removesuffix('_ms')}")
        ax.axhline(TARGET_ADDED_P99_MS, color="grey", linewidth=0.8, linestyle=":", label="2 ms target")
        ax.set(xscale="log", yscale="log", xlabel="offered rate (req/s)", ylabel="added latency (ms)",
               title=f"{mode}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Latency added over direct-to-fake (same run)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
