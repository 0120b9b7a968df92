"""Precision and recall of the sensitive-data detector on the shipped labeled set.

A finding is a true positive when a labeled span of the same kind overlaps it; an unmatched finding is a
false positive, an unmatched label a false negative. The bar: >= 0.95 precision and recall overall and
>= 0.90 per kind. Overall 0.95 is what a guard that can force routing or refuse a request needs to be
neither a sieve nor a nuisance; the per-kind bar is lower because the smallest kinds have 5-40 labels,
where one miss moves the figure by 3-20 points. The set includes a block written after tuning and scored
as is, so the figures are not the detector grading its own homework alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from router.guard import KINDS, Finding, SensitiveDataDetector

DATA = Path(__file__).parents[1] / "data" / "pii"
OVERALL_BAR = 0.95
PER_KIND_BAR = 0.90


def _load() -> list[dict[str, Any]]:
    with (DATA / "labeled.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def _overlaps(finding: Finding, span: dict[str, Any]) -> bool:
    return bool(span["kind"] == finding.kind and span["start"] < finding.end and finding.start < span["end"])


def _score(examples: list[dict[str, Any]]) -> tuple[Counter[str], Counter[str], Counter[str]]:
    detector = SensitiveDataDetector()
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for example in examples:
        findings = detector.scan(example["text"])
        for finding in findings:
            hit = any(_overlaps(finding, span) for span in example["spans"])
            (tp if hit else fp)[finding.kind] += 1
        for span in example["spans"]:
            if not any(_overlaps(finding, span) for finding in findings):
                fn[span["kind"]] += 1
    return tp, fp, fn


def _ratio(good: int, bad: int) -> float:
    return good / (good + bad) if good + bad else 1.0


def test_labeled_set_is_large_well_formed_and_regenerates_identically(tmp_path: Path) -> None:
    examples = _load()
    assert len(examples) >= 250
    assert sum(not e["spans"] for e in examples) >= 100  # hard negatives
    for example in examples:
        for span in example["spans"]:
            assert span["kind"] in KINDS and 0 <= span["start"] < span["end"] <= len(example["text"])
    script = (DATA / "make_labeled.py").read_text(encoding="utf-8")
    copy = tmp_path / "make_labeled.py"
    copy.write_text(script, encoding="utf-8")
    subprocess.run([sys.executable, str(copy)], check=True)
    assert (tmp_path / "labeled.jsonl").read_text(encoding="utf-8") == (DATA / "labeled.jsonl").read_text(
        encoding="utf-8")


def test_precision_and_recall_per_kind(capsys: Any) -> None:
    tp, fp, fn = _score(_load())
    rows = [f"{'kind':<12} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>9} {'recall':>7}"]
    for kind in KINDS:
        rows.append(f"{kind:<12} {tp[kind]:>4} {fp[kind]:>4} {fn[kind]:>4} "
                    f"{_ratio(tp[kind], fp[kind]):>9.3f} {_ratio(tp[kind], fn[kind]):>7.3f}")
    total_tp, total_fp, total_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    precision, recall = _ratio(total_tp, total_fp), _ratio(total_tp, total_fn)
    rows.append(f"{'overall':<12} {total_tp:>4} {total_fp:>4} {total_fn:>4} {precision:>9.3f} {recall:>7.3f}")
    with capsys.disabled():
        print("\n" + "\n".join(rows))
    assert precision >= OVERALL_BAR and recall >= OVERALL_BAR
    for kind in KINDS:
        assert tp[kind] > 0, kind
        assert _ratio(tp[kind], fp[kind]) >= PER_KIND_BAR, kind
        assert _ratio(tp[kind], fn[kind]) >= PER_KIND_BAR, kind
