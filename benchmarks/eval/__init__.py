"""`stellwerk eval`: routing-quality evaluation on a labelled dataset (issue #7, item 5).

The router under test routes a prompt to the strong model when its quality estimator's p_weak_ok is
below a threshold t; sweeping t draws the cost-quality curve, scored with RouteLLM's metrics (PGR,
APGR, CPT) against always-strong, always-weak, random and oracle routing. The input format is in
FORMAT.md beside this file.

Modules: `dataset` (JSONL rows and their validation), `routellm` (rows from RouteLLM's MMLU/GSM8K
labels), `scorer` (where p_weak_ok comes from), `curve` (threshold sweep and baselines), `metrics`
(PGR/APGR/CPT), `evaluate` (one slice end to end), `published` (RouteLLM's figures), `plot` and
`report` (PNG, JSON, Markdown).
"""
