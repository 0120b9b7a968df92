"""The decision evaluation's outputs: decision.json, decision.md and decision.png (quality vs cost)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["render_decision_markdown", "write_decision_outputs"]


def write_decision_outputs(result: dict[str, Any], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "decision.json", "markdown": out / "decision.md", "plot": out / "decision.png"}
    paths["json"].write_text(json.dumps(result, indent=2) + "\n")
    paths["markdown"].write_text(render_decision_markdown(result))
    _plot(result, paths["plot"])
    return paths


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value * 1000:.3f}"


def render_decision_markdown(result: dict[str, Any]) -> str:
    best = result["best_single_model"]
    lines = [
        "# Routing decision: quality vs cost", "",
        f"{result['rows']} rows, {len(result['models'])} candidate models, objective "
        f"`{result['objective']}` (default cost weight {result['default_cost_weight']}). "
        "Cost is the decision's own estimate per request, shown per 1,000 requests.", "",
        "| cost weight | quality | cost / 1k req | envelope quality at equal cost | quality gain | "
        "cost saving at equal quality | top choices |",
        "|---:|---:|---:|---:|---:|---:|---|"]
    for p in result["sweep"]:
        top = ", ".join(f"{m} {s:.0%}" for m, s in list(p["shares"].items())[:3])
        saving = "-" if p["cost_saving"] is None else f"{p['cost_saving']:.0%}"
        lines.append(f"| {p['cost_weight']:g} | {p['quality']:.3f} | {_usd(p['cost'])} | "
                     f"{p['envelope_quality']:.3f} | {p['quality_gain']:+.3f} | {saving} | {top} |")
    lines += ["", f"Best single model: `{best['model']}` quality {best['quality']:.3f} at "
                  f"{_usd(best['cost'])} per 1k requests."]
    reach = result["at_best_single_quality"]
    if reach is not None:
        lines.append(f"The router reaches that quality at cost weight {reach['cost_weight']:g} for "
                     f"{_usd(reach['cost'])} per 1k requests ({reach['quality']:.3f}).")
    else:
        lines.append("No sweep point reaches the best single model's quality.")
    lines += [f"Random (uniform over candidates): quality {result['random']['quality']:.3f} at "
              f"{_usd(result['random']['cost'])}; oracle: {result['oracle']['quality']:.3f} at "
              f"{_usd(result['oracle']['cost'])}.",
              f"Above the single-model envelope anywhere: **{'yes' if result['beats_envelope'] else 'no'}**.",
              "", "## Single models", "", "| model | quality | cost / 1k req |", "|---|---:|---:|"]
    for model, p in sorted(result["single_models"].items(), key=lambda kv: kv[1]["cost"]):
        lines.append(f"| {model} | {p['quality']:.3f} | {_usd(p['cost'])} |")
    return "\n".join(lines) + "\n"


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    singles = result["single_models"]
    ax.scatter([p["cost"] * 1000 for p in singles.values()], [p["quality"] for p in singles.values()],
               s=18, color="grey", label="single models")
    env = result["envelope"]
    ax.plot([c * 1000 for c, _ in env], [q for _, q in env], "--", color="grey", label="best single / mix")
    sweep = result["sweep"]
    ax.plot([p["cost"] * 1000 for p in sweep], [p["quality"] for p in sweep], "o-", color="tab:blue",
            label="Stellwerk decision (cost-weight sweep)")
    ax.scatter([result["oracle"]["cost"] * 1000], [result["oracle"]["quality"]], marker="*", s=120,
               color="tab:green", label="oracle")
    ax.scatter([result["random"]["cost"] * 1000], [result["random"]["quality"]], marker="x", s=60,
               color="tab:red", label="random")
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("estimated cost per 1,000 requests (USD)")
    ax.set_ylabel("mean quality")
    ax.set_title(f"Routing decision on {result['rows']} rows")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
