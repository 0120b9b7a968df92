"""PNG plots of a results document: latency percentiles vs load, throughput vs load, and the TTFT CDF.

Drawn with matplotlib's object API on the Agg canvas (no display, no global pyplot state).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["PLOTS", "draw_plots"]

# file name -> what it shows (the report's captions)
PLOTS = {
    "latency.png": "Latency percentiles vs load",
    "throughput.png": "Throughput vs load",
    "ttft_cdf.png": "TTFT distribution (CDF) per step",
}
_METRICS = (("ttft_ms", "TTFT"), ("itl_ms", "ITL"), ("tpot_ms", "TPOT"), ("e2e_ms", "E2E latency"))
_PERCENTILES = (("p50", "-o"), ("p90", "--s"), ("p99", ":^"))


def draw_plots(results: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Write the three PNGs into `folder`; returns file name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    steps = results["steps"]
    axis = "concurrency (requests in flight)" if steps and steps[0]["mode"] == "concurrency" \
        else "offered rate (requests/s)"
    out = {}
    for name, draw in (("latency.png", _latency), ("throughput.png", _throughput), ("ttft_cdf.png", _cdf)):
        figure = Figure(figsize=(10, 7) if name == "latency.png" else (8, 5), dpi=100)
        FigureCanvasAgg(figure)
        draw(figure, steps, axis)
        figure.suptitle(f"{PLOTS[name]} — {results['config'].get('model', '')}")
        figure.tight_layout()
        out[name] = folder / name
        figure.savefig(out[name], format="png")
    return out


def _loads(steps: list[dict[str, Any]]) -> list[float]:
    return [float(s["value"]) for s in steps]


def _latency(figure: Figure, steps: list[dict[str, Any]], axis: str) -> None:
    for n, (key, title) in enumerate(_METRICS, 1):
        ax = figure.add_subplot(2, 2, n)
        for pct, style in _PERCENTILES:
            values = [_nan(s["summary"][key][pct]) for s in steps]
            ax.plot(_loads(steps), values, style, label=pct)
        ax.set_title(f"{title} (ms)")
        ax.set_xlabel(axis)
        ax.grid(True, alpha=0.3)
        ax.legend()


def _throughput(figure: Figure, steps: list[dict[str, Any]], axis: str) -> None:
    ax = figure.add_subplot(1, 1, 1)
    loads = _loads(steps)
    ax.plot(loads, [s["summary"]["output_throughput"] for s in steps], "-o", color="tab:blue",
            label="output tokens/s")
    ax.set_xlabel(axis)
    ax.set_ylabel("output tokens/s", color="tab:blue")
    ax.grid(True, alpha=0.3)
    right = ax.twinx()
    right.plot(loads, [s["summary"]["request_throughput"] for s in steps], "--s", color="tab:orange",
               label="requests/s")
    right.plot(loads, [s["summary"]["goodput"] for s in steps], ":^", color="tab:green",
               label="goodput (req/s meeting SLO)")
    right.set_ylabel("requests/s")
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [str(line.get_label()) for line in lines], loc="upper left")


def _cdf(figure: Figure, steps: list[dict[str, Any]], axis: str) -> None:
    ax = figure.add_subplot(1, 1, 1)
    for step in steps:
        ttfts = sorted(1000 * r["ttft_s"] for r in step["requests"] if r["ok"] and r["ttft_s"] is not None)
        if ttfts:
            shares = [(i + 1) / len(ttfts) for i in range(len(ttfts))]
            ax.step(ttfts, shares, where="post", label=step["label"])
    ax.set_xlabel("TTFT (ms)")
    ax.set_ylabel("share of requests")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    if ax.get_lines():
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no successful request", ha="center", transform=ax.transAxes)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value
