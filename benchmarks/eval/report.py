"""Writes an evaluation's outputs: eval.json, one PNG per slice and eval.md, all from one result dict.

The Markdown formats the JSON's own values with `fmt_share` and `fmt_ratio`, so every number in the
report is a rounding of a number in the JSON (the tests check this).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from benchmarks.eval.plot import plot_slice
from benchmarks.eval.published import CITATION

__all__ = ["fmt_ratio", "fmt_share", "render_markdown", "write_outputs"]

_METRIC_ROWS = (("router", "router (every threshold)"),
                ("router_routellm_protocol", "router, RouteLLM 10-bin protocol"),
                ("random_expected", "random (expected)"), ("random_simulated", "random (simulated)"),
                ("oracle", "oracle (upper bound)"))


def fmt_share(value: float | None) -> str:
    """A share (0..1) as a percentage with one decimal; 'n/a' when undefined."""
    return "n/a" if value is None else f"{100.0 * value:.1f} %"


def fmt_ratio(value: float | None) -> str:
    """A quality, PGR or APGR with three decimals; 'n/a' when undefined."""
    return "n/a" if value is None else f"{value:.3f}"


def write_outputs(result: dict[str, Any], out: Path) -> dict[str, Path]:
    """eval.json, eval-<slice>.png per slice and eval.md under `out`; returns their paths by kind."""
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for item in result["slices"]:
        png = out / f"eval-{_slug(item['name'])}.png"
        item["plot"] = png.name
        paths[f"png:{item['name']}"] = plot_slice(item, result["strong"], result["weak"], png)
    paths["json"] = out / "eval.json"
    paths["json"].write_text(json.dumps(result, indent=1) + "\n")
    paths["markdown"] = out / "eval.md"
    paths["markdown"].write_text(render_markdown(result))
    return paths


def render_markdown(result: dict[str, Any]) -> str:
    """The report: setup, summary, per-slice metrics and plots, and RouteLLM's figures when relevant."""
    parts = [_header(result), _summary(result)]
    parts += [_slice(item, result) for item in result["slices"]]
    if result.get("published"):
        parts.append(_published(result))
    parts.append(_definitions())
    return "\n\n".join(parts) + "\n"


def _header(result: dict[str, Any]) -> str:
    data = result["dataset"]
    lines = ["# Stellwerk routing-quality evaluation", "",
             f"- command: `{result['command']}`", f"- created: {result['created']}",
             f"- dataset: {data['source']} ({data['rows']} rows)",
             f"- strong model: `{result['strong']}`, weak model: `{result['weak']}`",
             f"- router under test: {result['scorer']['description']}",
             f"- operating threshold: p_weak_ok < {result['settings']['threshold']:g} goes strong "
             f"({result['settings']['threshold_source']})"]
    for count in data.get("counts", []):
        lines.append(f"- {count['benchmark']}: {count['total']} rows, dropped "
                     f"{count['dropped_contaminated']} contaminated in RouteLLM's training data and "
                     f"{count['dropped_training_side']} on the router's training side of the split; "
                     f"**{count['kept_held_out']} held out** evaluated")
    return "\n".join(lines)


def _summary(result: dict[str, Any]) -> str:
    lines = ["## Summary", "",
             "| slice | n | weak | strong | APGR | CPT(50%) | CPT(80%) | strong calls for 95 % of strong "
             "quality | random APGR | oracle APGR |", "|---|---|---|---|---|---|---|---|---|---|"]
    for item in result["slices"]:
        m = item["metrics"]
        lines.append(f"| {item['name']} | {item['n']} | {fmt_ratio(item['weak_quality'])} | "
                     f"{fmt_ratio(item['strong_quality'])} | {fmt_ratio(m['router']['apgr'])} | "
                     f"{fmt_share(m['router']['cpt_50'])} | {fmt_share(m['router']['cpt_80'])} | "
                     f"{fmt_share(m['router']['share_for_95pct_strong_quality'])} | "
                     f"{fmt_ratio(m['random_expected']['apgr'])} | {fmt_ratio(m['oracle']['apgr'])} |")
    return "\n".join(lines)


def _slice(item: dict[str, Any], result: dict[str, Any]) -> str:
    lines = [f"## {item['name']} (n={item['n']})", ""]
    if not item["gap_positive"]:
        lines += ["The strong model does not outscore the weak one here: PGR, APGR and CPT are "
                  "undefined.", ""]
    lines += ["| curve | APGR | CPT(50%) | CPT(80%) | strong calls for 95 % of strong quality |",
              "|---|---|---|---|---|"]
    for key, label in _METRIC_ROWS:
        m = item["metrics"].get(key)
        if m is not None:
            lines.append(f"| {label} | {fmt_ratio(m['apgr'])} | {fmt_share(m['cpt_50'])} | "
                         f"{fmt_share(m['cpt_80'])} | {fmt_share(m['share_for_95pct_strong_quality'])} |")
    if "bootstrap" in item:
        lines += ["", _bootstrap_line(item["bootstrap"])]
    point = item["operating_point"]
    lines += ["", f"At the operating threshold {point['threshold']:g} the router sends "
              f"{fmt_share(point['strong_share'])} of prompts to the strong model: quality "
              f"{fmt_ratio(point['quality'])}, PGR {fmt_ratio(point['pgr'])}."]
    if "costs" in item:
        lines += ["", *_cost_lines(item["costs"])]
    lines += ["", f"![cost-quality curve of {item['name']}]({item.get('plot', '')})"]
    return "\n".join(lines)


def _bootstrap_line(ci: dict[str, Any]) -> str:
    def span(key: str, fmt: Any) -> str:
        return "n/a" if ci[key] is None else f"{fmt(ci[key][0])} to {fmt(ci[key][1])}"

    return (f"95 % bootstrap intervals ({ci['reps']} resamples of the rows, seed {ci['seed']}): APGR "
            f"{span('apgr', fmt_ratio)}, CPT(50%) {span('cpt_50', fmt_share)}, "
            f"CPT(80%) {span('cpt_80', fmt_share)}.")


def _cost_lines(costs: dict[str, Any]) -> list[str]:
    per_call = costs["per_call"]
    lines = [f"Costs per call: strong {per_call['strong']:g}, weak {per_call['weak']:g}.", "",
             "| operating point | cost per prompt | saving vs always strong |", "|---|---|---|"]
    for key, value in costs["per_prompt"].items():
        cost = "n/a" if value is None else f"{value:.6g}"
        saving = fmt_share(costs["saving_vs_always_strong"][key])
        lines.append(f"| {key.replace('_', ' ')} | {cost} | {saving} |")
    return lines


def _published(result: dict[str, Any]) -> str:
    ours = {item["name"]: item for item in result["slices"]}
    lines = ["## Next to RouteLLM's published figures", "",
             f"Source: {CITATION}. Their routers were trained on Chatbot Arena preference data plus "
             "augmentation (MMLU golden labels, GPT-4-judge labels) and evaluated on every uncontaminated "
             "row; ours is a logistic head on MiniLM embeddings trained on the MMLU/GSM8K outcomes "
             "themselves and evaluated on our held-out 20 %. Same model pair and labels, different "
             "training data and rows: **the comparison is indicative, not head to head.**", "",
             "| benchmark | router | training data | APGR | CPT(50%) | CPT(80%) |",
             "|---|---|---|---|---|---|"]
    for name in ("mmlu", "gsm8k"):
        if name in ours:
            m = ours[name]["metrics"]["router"]
            lines.append(f"| {name} | **Stellwerk quality head** (n={ours[name]['n']}) | our MMLU/GSM8K "
                         f"training side | {fmt_ratio(m['apgr'])} | {fmt_share(m['cpt_50'])} | "
                         f"{fmt_share(m['cpt_80'])} |")
        for fig in result["published"]:
            if fig["benchmark"] == name:
                note = f" ({fig['note']})" if fig["note"] else ""
                lines.append(f"| {name} | RouteLLM {fig['router']}{note} | {fig['training_data']} | "
                             f"{fmt_ratio(fig['apgr'])} | {fmt_share(fig['cpt_50'])} | "
                             f"{fmt_share(fig['cpt_80'])} |")
    return "\n".join(lines)


def _definitions() -> str:
    return "\n".join([
        "## Definitions", "",
        "- PGR(x) = (quality(x) - weak) / (strong - weak) at strong-call share x; APGR = area under "
        "PGR over x in [0, 1] (random routing: 0.5); CPT(p%) = the smallest strong-call share reaching "
        "PGR >= p % (RouteLLM, arXiv:2406.18665, section 5.1; routellm/evals/evaluate.py).",
        "- \"Strong calls for 95 % of strong quality\" = the smallest share whose mean quality reaches "
        "0.95 x the strong model's (the issue's metric). It is not CPT(95%).",
        "- \"router (every threshold)\" sweeps every distinct p_weak_ok value; \"RouteLLM 10-bin protocol\" "
        "uses thresholds at the deciles of the score, as RouteLLM's evaluate.py does, so its APGR is the "
        "like-for-like number for their tables. Between points, shares are interpolated linearly.",
    ])


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "slice"
