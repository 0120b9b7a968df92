"""PNG of a plan document: monthly cost vs traffic volume, and cost / spill vs the unit cap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_plan"]


def plot_plan(doc: dict[str, Any], path: Path) -> None:
    """Two panels drawn from `doc["scans"]` (Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    rows = doc["scans"]["traffic"]
    x = [r["requests_per_day"] for r in rows]
    left.loglog(x, [max(r["routed"], 1e-9) for r in rows], label="as Stellwerk routes it (local + spill)")
    left.loglog(x, [max(r["remote"], 1e-9) for r in rows], "--", label="remote only (same objective)")
    left.axvline(doc["traffic"]["requests_per_day"], color="grey", lw=0.8, label="this traffic")
    if doc["break_even"]["break_even_requests_per_day"] is not None:
        left.axvline(doc["break_even"]["break_even_requests_per_day"], color="green", lw=0.8, ls=":",
                     label="break-even volume")
    left.set(xlabel="requests per day", ylabel="cost per month (USD)", title="Monthly cost vs traffic")
    left.legend(fontsize=8)
    caps = doc["scans"]["unit_cap"]
    units = [c["units"] for c in caps]
    right.plot(units, [c["total_cost_month"] for c in caps], marker="o", label="total")
    right.plot(units, [c["hardware_cost_month"] for c in caps], marker=".", label="hardware")
    right.plot(units, [c["remote_cost_month"] for c in caps], marker=".", label="remote APIs")
    right.set(xlabel="unit cap (GPUs / nodes)", ylabel="cost per month (USD)",
              title="Cost and peak spill vs unit cap")
    right.xaxis.get_major_locator().set_params(integer=True)
    spill = right.twinx()
    spill.plot(units, [100 * c["peak_spill_share"] for c in caps], color="red", ls=":", label="peak spill %")
    spill.set_ylabel("requests spilled at peak (%)")
    right.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
