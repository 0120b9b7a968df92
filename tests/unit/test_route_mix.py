"""`python -m benchmarks.eval.route_mix`: held-out prompts grouped by kind, routed by the real
RoutingService, counted as on-premises or frontier per deployment."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from benchmarks.eval.route_mix import DEPLOYMENTS, Group, load_groups, markdown, route_mix
from models.catalogue import load_catalogue
from router.features.split import is_held_out
from tests.fakes import ScriptedFeatures, TableQuality


def _index(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "index.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    return path


def test_groups_hold_only_held_out_prompts_by_source_and_category(tmp_path: Path) -> None:
    prompts = [f"question {i}" for i in range(400)]
    rows: list[dict[str, object]] = [{"prompt": p, "source": "mmlu" if i % 2 else "gsm8k",
             "router_category": "knowledge" if i % 2 else "math"} for i, p in enumerate(prompts)]
    rows.append({"prompt": "no category at all, held out or not", "source": "arena", "router_category": None})
    groups = {g.name: g for g in load_groups(_index(tmp_path, rows), per_group=1000)}
    held = [p for p in prompts if is_held_out(p)]
    assert 40 < len(held) < 120  # the shared 20 % split, not everything
    assert set(groups["gsm8k/math"].prompts) | set(groups["mmlu/knowledge"].prompts) == set(held)
    assert all(is_held_out(p) for g in groups.values() for p in g.prompts)
    capped = load_groups(_index(tmp_path, rows), per_group=5)
    assert all(len(g.prompts) <= 5 for g in capped)


def test_counts_local_and_frontier_choices_per_deployment() -> None:
    chat = [e for e in load_catalogue().models if e.capabilities.chat]
    cpu_box = [e for e in chat if DEPLOYMENTS["cpu-box"](e)]
    assert {e.kind for e in cpu_box} == {"local", "remote"}
    assert all(e.accelerator == "cpu" for e in cpu_box if e.is_local)
    # Gemma answers small talk well enough and costs nothing; everything else is for a remote model.
    quality = TableQuality({"gemma-3-270m": {"chit_chat": 0.9, "math": 0.05}, "openai/gpt-4o-mini": 0.9})
    groups = [Group("talk", ("hi there", "good morning")), Group("sums", ("what is 17 * 23?",))]
    talk = route_mix(groups[:1], cpu_box, ScriptedFeatures("chit_chat"), quality)
    sums = route_mix(groups[1:], cpu_box, ScriptedFeatures("math"), quality)
    assert talk[0]["local_share"] == 1.0 and talk[0]["models"] == {"gemma-3-270m": 1.0}
    assert sums[0]["frontier_share"] == 1.0 and sums[0]["models"] == {"openai/gpt-4o-mini": 1.0}
    table = markdown({"cpu-box": talk + sums})
    assert "| talk | 2 | 100% | 0% | gemma-3-270m 100% |" in table
    assert "| sums | 1 | 0% | 100% | openai/gpt-4o-mini 100% |" in table
