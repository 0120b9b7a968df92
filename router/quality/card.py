"""Writes router/quality/artifacts/MODEL_CARD.md from the training metadata (the measured numbers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_model_card"]

_STATIC = (Path(__file__).with_name("card_static.md"))


def write_model_card(meta: dict[str, Any], path: Path) -> None:
    m = meta["metrics"]
    parts = ["# Stellwerk per-model quality prediction (router.quality)\n",
             "All numbers below were computed by `python -m router.quality.train` on held-out prompts "
             "(prompts whose text `router.features.split.is_held_out`, 20 %), never trained on.\n",
             _split(m), _seen(m["seen"]), _lmo(m["leave_models_out"]), _published(m["published"]),
             _routing(m["routing"]), _probes(m["probes"]), _anchors(meta, m["anchors_trained_on"]),
             _STATIC.read_text()]
    if meta["embedder"].get("runtime") == "static":
        parts.insert(1, _STATIC_CLASSIFIER.format(table=meta["embedder"]["table"]))
    path.write_text("\n".join(parts))


_STATIC_CLASSIFIER = """**This is the static classifier's quality model** (`stellwerk serve
--classifier static`): its prompt heads read the static vectors (`{table}`: the token table
distilled from all-MiniLM-L6-v2 plus the category head's supervised token logits, see
`router/features/artifacts/static/MODEL_CARD.md`), not the MiniLM embedding the Method section
below describes. Retrain: `python -m router.quality.train --data ../shared/data/routing --embedder
static --category-head router/features/artifacts/static/category_head.npz --out
router/quality/artifacts/static`.
"""


def _split(m: dict[str, Any]) -> str:
    s = m["split"]
    return (f"## Split\n- {s['train_prompts']} training prompts ({s['train_outcomes']} outcomes), "
            f"{s['held_out_prompts']} held-out prompts ({s['held_out_outcomes']} outcomes).\n")


def _row(name: str, c: dict[str, Any] | None) -> str:
    if not c:
        return f"| {name} |" + " - |" * 6
    return (f"| {name} | {c['n']} | {c['auc']:.3f} | {c['brier']:.3f} | {c['ece']:.3f} | "
            f"{c['base_rate']:.3f} | {c['mean_pred']:.3f} |")


_HEAD = "| | n | AUC | Brier | ECE | observed | mean P |\n|---|---|---|---|---|---|---|"


def _seen(s: dict[str, Any]) -> str:
    lines = ["## Models seen in training (held-out prompts)", _HEAD, _row("**pooled**", s["pooled"])]
    lines += [_row(f"source {k}", v) for k, v in s["per_source"].items()]
    lines += [_row(k, v) for k, v in sorted(s["per_model"].items())]
    return "\n".join(lines) + "\n"


def _lmo(s: dict[str, Any]) -> str:
    lines = ["## Leave-models-out (refit without " + ", ".join(s["left_out"]) + ")",
             "Each left-out model is described only by its accuracy per category on the training prompts "
             "(a benchmark score), mapped to abilities by inverting the test characteristic curve; "
             "the row below it is the same model when its outcomes were trained on.\n", _HEAD]
    for name, v in s["per_model"].items():
        lines += [_row(f"{name} (descriptor only)", v["from_descriptor"]),
                  _row(f"{name} (seen)", v["seen_in_training"])]
    return "\n".join(lines) + "\n"


def _published(s: dict[str, Any]) -> str:
    lines = ["## Catalogue models from published scores only",
             "Catalogue models that are exactly a training-data model, described only by their row in "
             "models/quality.yaml (offsets calibrated on the other such models), versus their measured "
             "abilities:\n", _HEAD]
    for cid, v in s.items():
        lines += [_row(f"{cid} (published only)", v["published_only"]),
                  _row(f"{cid} (measured, {v['training_name']})", v["measured"])]
    return "\n".join(lines) + "\n"


def _routing(r: dict[str, Any]) -> str:
    lines = ["## Routing check (held-out prompts)",
             "Per prompt the router picks argmax P - λ·cost (USD per prompt: "
             f"{r['cost_model']['input_tokens']} input tokens, {r['cost_model']['output_tokens']} output "
             f"tokens, x{r['cost_model']['reasoning_models_output_factor']:g} for o1; prices "
             f"{r['cost_model']['prices']}). Accuracy is the chosen model's real outcome.\n"]
    for pool, v in r.items():
        if pool == "cost_model":
            continue
        lines += [f"### {pool}: {v['n_prompts']} prompts, {len(v['models'])} models",
                  "| λ | accuracy | $ per 1k prompts | best single model at ≤ that cost | top picks |",
                  "|---|---|---|---|---|"]
        lines += [f"| {p['lambda']:g} | {p['accuracy']:.3f} | {p['usd_per_1k']:.3f} | "
                  f"{p['best_single_at_or_below_cost']:.3f} | "
                  + ", ".join(f"{n} {s:.2f}" for n, s in p["top_picks"].items()) + " |" for p in v["router"]]
        lines += [f"\nOracle (cheapest model that got it right): accuracy {v['oracle']['accuracy']:.3f}, "
                  f"${v['oracle']['usd_per_1k']:.3f} per 1k.\n",
                  "| single model | accuracy | $ per 1k |", "|---|---|---|"]
        lines += [f"| {n} | {s['accuracy']:.3f} | {s['usd_per_1k']:.3f} |"
                  for n, s in sorted(v["single"].items(), key=lambda t: t[1]["usd_per_1k"])]
        lines.append("")
    return "\n".join(lines) + "\n"


def _probes(p: dict[str, Any]) -> str:
    models = list(p["descriptors"])
    short = [m.rsplit("/", 1)[-1] for m in models]
    lines = ["## Open-ended probe prompts (written for this card; no labels — a sanity check only)",
             "| prompt | category | d | " + " | ".join(short) + " |",
             "|---|---|---|" + "---|" * len(models)]
    for text, v in p["prompts"].items():
        cut = text if len(text) <= 60 else text[:57] + "..."
        lines.append(f"| {cut} | {v['category']} | {v['difficulty']:.2f} | "
                     + " | ".join(f"{v['p'][m]:.2f}" for m in models) + " |")
    lines += ["", "Descriptors (ability per category; basis `measured:<name>` = fitted on that training "
              "model's outcomes, `published` = mapped from models/quality.yaml):\n",
              "| model | " + " | ".join(p["descriptors"][models[0]]["ability"]) + " |",
              "|---|" + "---|" * len(p["descriptors"][models[0]]["ability"])]
    for m in models:
        desc = p["descriptors"][m]
        cells = [f"{v:.2f}" + ("*" if desc["basis"][c].startswith("measured") else "")
                 for c, v in desc["ability"].items()]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append("\n`*` measured on the training data; others mapped from published scores.\n")
    lat = p.get("latency_us")
    if lat:
        lines.append("Cost at run time (numpy, one thread, 2-core machine shared with other work, "
                     f"indicative): {lat['profile']:.0f} µs per profile from an embedding, "
                     f"{lat['predict']:.1f} µs per (profile, model) prediction.\n")
    return "\n".join(lines) + "\n"


def _anchors(meta: dict[str, Any], s: dict[str, Any]) -> str:
    a = meta["anchors"]
    offsets = ", ".join(f"{c} {v:+.2f}" for c, v in meta["offsets"].items())
    used = {c: v for c, v in meta["offset_calibration"]["anchors_per_category"].items() if v}
    return ("## Weak supervision and the published-score offsets\n"
            f"- Difficulty bounds (trained on; not held-out evidence): {a['n_easy']} trivial prompts kept at "
            f"difficulty <= {a['easy_target']:.2f} (the weakest training model at P >= {a['easy_p']}), "
            f"{a['n_hard']} Arena-Hard prompts at >= {a['hard_target']:.2f} ({', '.join(a['frontier_2024'])} "
            f"at P <= {a['hard_p']}). Within bound after training: "
            f"easy {s['easy']['share_within_bound']:.0%}, "
            f"hard {s['hard']['share_within_bound']:.0%}; median difficulty "
            f"easy {s['easy']['median_difficulty']:.2f}, hard {s['hard']['median_difficulty']:.2f}, "
            f"training prompts {s['training_prompts_median_difficulty']:.2f}.\n"
            f"- Offsets (published benchmark vs training prompts, in ability units): {offsets}. "
            f"Calibrated per category on {used}; other categories use the pooled median "
            f"{meta['offset_calibration']['fallback_offset']:+.2f}.\n")
