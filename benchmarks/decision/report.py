"""The decision benchmark's Markdown table."""

from __future__ import annotations

from typing import Any

__all__ = ["markdown"]


def markdown(result: dict[str, Any]) -> str:
    """A short Markdown report: machine, one row per embedder, agreement."""
    machine = result["machine"]
    lines = [
        f"Decision benchmark ({result['started_at']}): open-loop {result['rate_per_s']:g} `auto` "
        f"requests/s for {result['duration_s']:g} s per embedder, {result['prompts']} prompts from the "
        "routing prompt index; `RoutingService.decide` with the shipped configuration and catalogue.",
        f"Machine: {machine.get('model', '?')}, {machine.get('cpus', '?')} CPUs. "
        "**Shared machine**: other processes' CPU during each run is in the last column.",
        "",
        "| embedder | decisions | latency p50 / p90 / p99 ms | extract CPU p50 / p99 ms | "
        "process CPU ms / decision | other processes (cores busy) |",
        "|---|---|---|---|---|---|",
    ]
    for phase in result["phases"]:
        lat, cpu = phase["latency_ms"], phase["extract_cpu_ms"]
        lines.append(
            f"| {phase['embedder']} | {phase['decisions']} | {lat['p50']} / {lat['p90']} / {lat['p99']} | "
            f"{cpu['p50']} / {cpu['p99']} | {phase['process_cpu_ms_per_decision']} | "
            f"{phase['cpu']['others_cores_busy']} |")
    agree = result.get("agreement")
    if agree:
        text = (f"ONNX vs torch on {agree['prompts']} prompts: cosine mean {agree['cosine_mean']}, "
                f"min {agree['cosine_min']}; the category head's top class agrees on "
                f"{agree['category_agreement']:.1%}")
        if "p_weak_ok_abs_diff_mean" in agree:
            text += (f"; p_weak_ok differs by {agree['p_weak_ok_abs_diff_mean']} on average "
                     f"(max {agree['p_weak_ok_abs_diff_max']})")
        decision = agree.get("decision")
        if decision:
            text += (f"; the default objective picks the same model for {decision['same_model']:.1%} of "
                     f"{decision['decisions']} prompts (idle telemetry)")
        lines += ["", text + "."]
    return "\n".join(lines) + "\n"
