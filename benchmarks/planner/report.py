"""The Markdown report of a plan document (numbers come only from the document)."""

from __future__ import annotations

from typing import Any

__all__ = ["markdown", "markdown_cost_table", "money"]


def money(value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.4f}"


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def markdown(doc: dict[str, Any], plot_name: str | None = "plan.png") -> str:
    t = doc["traffic"]
    lines = [f"# Capacity plan: {t['name']}", "",
             f"- Peak {t['peak_rps']:g} req/s, {t['requests_per_day']:,.0f} requests/day, "
             f"{t['days_per_month']:g} days/month; mean {t['mean_input_tokens']:g} input / "
             f"{t['mean_output_tokens']:g} output tokens; SLO {_slo(t['slo'])}",
             f"- Objective `{doc['objective']}`; unit cap: "
             f"{doc['unit_cap'] if doc['unit_cap'] is not None else 'none'}",
             "", "## Performance profiles", ""]
    for _model, p in doc["profiles"].items():
        lines.append(f"- **{p['label']}** — {p['provenance'].upper()}, {p['as_of']}: {p['source']}"
                     + (f" Notes: {p['notes']}" if p["notes"] else ""))
    lines += ["", "## Hardware prices", ""]
    for hw, p in doc["hardware_prices"].items():
        lines.append(f"- `{hw}`: {money(p['price_per_hour'])} per {p['unit']}-hour ({p['currency']}, "
                     f"as of {p['as_of']}): {p['source']}")
    lines += markdown_cost_table(doc["cost_per_mtok"]) + _plan(doc["plan"]) + _scenarios(doc["scenarios"])
    lines += _break_even(doc["break_even"])
    if plot_name:
        lines += ["", f"![Monthly cost vs traffic and vs units]({plot_name})"]
    return "\n".join(lines) + "\n"


def _slo(slo: dict[str, Any]) -> str:
    parts = [f"{k.replace('_ms', '')} <= {v:g} ms" for k, v in slo.items() if v is not None]
    return ", ".join(parts) or "none"


def markdown_cost_table(table: dict[str, Any]) -> list[str]:
    """The cost-per-1M table as Markdown lines."""
    mix = table["mix"]
    lines = ["", f"## Cost per 1M tokens (blended at {mix['input_tokens']:g}:{mix['output_tokens']:g} "
                 f"input:output; local at {table['utilisation']:.0%} utilisation)", "",
             "| model | kind | input | output | blended | basis |", "|---|---|---|---|---|---|"]
    for r in sorted(table["rows"], key=lambda r: r["blended_per_mtok"]):
        lines.append(f"| {r['model']} | {r['kind']} | {money(r['input_per_mtok'])} | "
                     f"{money(r['output_per_mtok'])} | {money(r['blended_per_mtok'])} | {r['basis']} |")
    return lines


def _plan(plan: dict[str, Any]) -> list[str]:
    lines = ["", "## Plan (as Stellwerk routes it)", "",
             "| local model | share of requests | req/s per replica at SLO | peak demand req/s | "
             "replicas needed | replicas | units | peak spill req/s | hardware / month | "
             "break-even price per unit-hour |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m in plan["models"]:
        lines.append(f"| {m['model']} ({m['provenance']}) | {_pct(m['share'])} | "
                     f"{m['capacity_rps_per_replica']:.3g} | {m['peak_demand_rps']:.3g} | "
                     f"{m['replicas_needed']} | {m['replicas']} | {m['replicas'] * m['units_per_replica']} "
                     f"{m['unit']} | {m['peak_spill_rps']:.3g} | {money(m['hardware_cost_month'])} | "
                     f"{money(m['break_even_price_per_unit_hour'])} |")
    for m in plan["models"]:
        if m["slo_concurrency"] is None:
            lines.append(f"\n{m['model']}: no measured point meets the SLO, so none of its traffic can be "
                         "served locally (all of it spills).")
    lines += ["", "| remote model | requests / month | cost / month |", "|---|---|---|"]
    for model, r in sorted(plan["remote"].items()):
        lines.append(f"| {model} | {r['requests_month']:,.0f} | {money(r['cost_month'])} |")
    lines += ["", f"**Monthly total {money(plan['total_cost_month'])}** = hardware "
                  f"{money(plan['hardware_cost_month'])} + remote APIs {money(plan['remote_cost_month'])}; "
                  f"{_pct(plan['peak_spill_share'])} of all requests spill to remote at the peak hour.",
              "", "Routing by slice (the router's `rank` on the mean request of each category):", "",
              "| category | hard | share | model | reason | spills to |", "|---|---|---|---|---|---|"]
    for r in plan["routes"]:
        lines.append(f"| {r['category']} | {'yes' if r['hard'] else 'no'} | {_pct(r['share'])} | "
                     f"{r['model']} | {r['reason']} | {r['spill_to'] or '—'} |")
    return lines


def _scenarios(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["", "## The same traffic priced other ways", "",
             "| scenario | units | hardware / month | remote / month | total / month | peak spill |",
             "|---|---|---|---|---|---|"]
    for s in rows:
        lines.append(f"| {s['name']} | {s['units']} | {money(s['hardware_cost_month'])} | "
                     f"{money(s['remote_cost_month'])} | {money(s['total_cost_month'])} | "
                     f"{_pct(s['peak_spill_share'])} |")
    return lines


def _break_even(be: dict[str, Any]) -> list[str]:
    lines = ["", "## Break-even", ""]
    for model, price in be["price_per_unit_hour"].items():
        lines.append(f"- {model}: self-hosting costs what its locally served requests would cost on the "
                     f"fallback API at a hardware price of **{money(price)} per unit-hour**")
    if be["break_even_requests_per_day"] is None:
        lines.append("- Traffic volume: the routed plan never costs less than remote-by-objective between "
                     "0.001x and 1000x this traffic")
    else:
        lines.append(f"- Traffic volume: from about **{be['break_even_requests_per_day']:,.0f} "
                     "requests/day** "
                     f"({be['break_even_scale']:.3g}x this traffic) the routed plan costs no more than "
                     "remote-by-objective")
    return lines
