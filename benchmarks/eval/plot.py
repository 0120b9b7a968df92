"""The cost-quality plot of one slice (PNG, matplotlib's Agg backend), drawn from the result dict.

Left panel: mean quality against the share of strong-model calls, for the router's threshold sweep,
the same router on RouteLLM's 10-bin protocol, random routing (expected, and simulated when asked),
the oracle, both single-model baselines and the 95 %-of-strong-quality line. With costs, a right panel
shows the same curves against the cost per prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_slice"]

_STYLE: dict[str, dict[str, Any]] = {
    "router": {"label": "router (p_weak_ok threshold)", "color": "tab:blue", "linewidth": 1.8},
    "router_routellm_protocol": {"label": "router, RouteLLM 10-bin protocol", "color": "tab:blue",
                                 "linestyle": "none", "marker": "o", "markersize": 4},
    "random_expected": {"label": "random (expected)", "color": "tab:gray", "linestyle": "--"},
    "random_simulated": {"label": "random (simulated)", "color": "tab:gray", "linewidth": 0.8, "alpha": 0.7},
    "oracle": {"label": "oracle (upper bound)", "color": "tab:green", "linestyle": ":"},
}


def plot_slice(result: dict[str, Any], strong: str, weak: str, path: Path) -> Path:
    """Writes the slice's plot to `path` and returns it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    costs = result.get("costs")
    fig, axes = plt.subplots(1, 2 if costs else 1, figsize=(12 if costs else 6.5, 5), squeeze=False)
    _panel(axes[0][0], result, strong, weak, None)
    axes[0][0].set_xlabel("strong-model calls (%)")
    if costs:
        _panel(axes[0][1], result, strong, weak, costs["per_call"])
        axes[0][1].set_xlabel("cost per prompt")
    fig.suptitle(f"Routing quality: {result['name']} (n={result['n']})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panel(ax: Any, result: dict[str, Any], strong: str, weak: str,
           per_call: dict[str, float] | None) -> None:
    def x(share: float) -> float:
        if per_call is None:
            return 100.0 * share
        return share * per_call["strong"] + (1.0 - share) * per_call["weak"]

    for key, style in _STYLE.items():
        points = result["curves"].get(key)
        if points:
            ax.plot([x(p[0]) for p in points], [p[1] for p in points], **style)
    ax.axhline(result["strong_quality"], color="tab:red", linewidth=0.9, label=f"always strong ({strong})")
    ax.axhline(result["weak_quality"], color="black", linewidth=0.9, label=f"always weak ({weak})")
    ax.axhline(0.95 * result["strong_quality"], color="tab:red", linewidth=0.7, linestyle="-.",
               label="95 % of strong quality")
    point = result["operating_point"]
    ax.plot([x(point["strong_share"])], [point["quality"]], marker="*", markersize=12, color="tab:orange",
            linestyle="none", label=f"router at threshold {point['threshold']:g}")
    ax.set_ylabel("mean quality")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
