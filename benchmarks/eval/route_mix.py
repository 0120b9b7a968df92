"""`python -m benchmarks.eval.route_mix`: where the shipped decision sends each kind of prompt.

Labelled multi-model scores are exam-style; real traffic is not. This report needs no labels: it routes
held-out prompts of every kind in the routing prompt index (chit-chat and open questions from Vicuna-bench,
hard user prompts from Arena-Hard, maths, code, knowledge, tool use) through the same `RoutingService` the
server runs (shipped configuration, classifier and quality model, idle telemetry) and reports, per prompt
group, the share that stays on premises, the share that goes to a frontier API and the models chosen —
once per deployment:

- `gpu-cluster`: every chat model of the catalogue (GPU-class open models and all frontier APIs);
- `cpu-box`: the local models that run on a CPU (the 270M base model) and all frontier APIs.

It answers the question the routing issue started from ("does a hard prompt ever reach a frontier model,
does a trivial one stay local, does a base model get only what it can answer?") on prompts the heads never
trained on (the shared hash split). It says nothing about answer quality: `stellwerk eval --decision` does.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cluster.telemetry import TelemetrySnapshot
from models.catalogue import ModelEntry, load_catalogue
from router.features.split import is_held_out
from router.hot_reload import ConfigHolder
from router.metrics import RouterMetrics
from router.routing.config import DEFAULT_ROUTING_CONFIG_PATH, load_routing_config
from router.routing.service import FeatureSource, QualityPredictor, RoutingService
from router.schemas import ChatCompletionRequest

__all__ = ["DEPLOYMENTS", "Group", "load_groups", "markdown", "route_mix"]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INDEX = REPO_ROOT.parent / "shared" / "data" / "routing" / "router_prompts_index.jsonl.gz"
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results" / "route_mix"


def _gpu_cluster(entry: ModelEntry) -> bool:
    return True


def _cpu_box(entry: ModelEntry) -> bool:
    return not entry.is_local or entry.accelerator == "cpu"


DEPLOYMENTS: dict[str, Callable[[ModelEntry], bool]] = {"gpu-cluster": _gpu_cluster, "cpu-box": _cpu_box}


@dataclass(frozen=True)
class Group:
    """Prompts of one kind: `source/router_category` of the routing prompt index."""

    name: str
    prompts: tuple[str, ...]


def load_groups(path: Path, per_group: int, seed: int = 0) -> list[Group]:
    """Held-out prompts of the index grouped by source and task category, at most
    `per_group` of each (a seeded sample), groups in a stable order."""
    by_group: dict[str, list[str]] = defaultdict(list)
    with gzip.open(path, "rt", encoding="utf-8") as rows:
        for line in rows:
            row = json.loads(line)
            prompt = str(row["prompt"])
            if not is_held_out(prompt):
                continue
            kind = row.get("router_category") or "all"
            by_group[f"{row['source']}/{kind}"].append(prompt)
    rng = random.Random(seed)
    groups = []
    for name in sorted(by_group):
        prompts = by_group[name]
        picked = rng.sample(prompts, per_group) if len(prompts) > per_group else prompts
        groups.append(Group(name, tuple(picked)))
    return groups


def route_mix(groups: Sequence[Group], entries: Sequence[ModelEntry], features: FeatureSource,
              quality: QualityPredictor) -> list[dict[str, Any]]:
    """Routes every prompt once (dry run, idle telemetry, the configuration's default objective) and
    counts, per group, on-premises vs frontier choices and the models chosen."""
    return asyncio.run(_route_mix(groups, list(entries), features, quality))


async def _route_mix(groups: Sequence[Group], entries: list[ModelEntry], features: FeatureSource,
                     quality: QualityPredictor) -> list[dict[str, Any]]:
    config = load_routing_config(DEFAULT_ROUTING_CONFIG_PATH)
    service = RoutingService(ConfigHolder.fixed(config, Path("route-mix")), features, quality,
                             lambda: entries, lambda: TelemetrySnapshot(), RouterMetrics())
    by_id = {e.id: e for e in entries}
    out = []
    for group in groups:
        chosen: Counter[str] = Counter()
        for i, prompt in enumerate(group.prompts):
            request = ChatCompletionRequest.model_validate(
                {"model": "auto", "messages": [{"role": "user", "content": prompt}]})
            decision = await service.decide(request, None, request_id=f"mix-{i}", dry_run=True)
            chosen[decision.chosen.id] += 1
        n = len(group.prompts)
        local = sum(k for m, k in chosen.items() if by_id[m].is_local)
        out.append({"group": group.name, "prompts": n, "local_share": local / n,
                    "frontier_share": 1.0 - local / n,
                    "models": {m: k / n for m, k in chosen.most_common()}})
    return out


def markdown(results: dict[str, list[dict[str, Any]]]) -> str:
    """One table per deployment: group, prompts, on premises, frontier, the three most chosen models."""
    parts = []
    for deployment, rows in results.items():
        parts += [f"### {deployment}", "", "| prompts | n | on premises | frontier API | chosen (share) |",
                  "|---|---|---|---|---|"]
        for row in rows:
            top = ", ".join(f"{m} {s:.0%}" for m, s in list(row["models"].items())[:3])
            parts.append(f"| {row['group']} | {row['prompts']} | {row['local_share']:.0%} | "
                         f"{row['frontier_share']:.0%} | {top} |")
        parts.append("")
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval.route_mix", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX,
                        help="the routing prompt index (JSON lines with prompt, source, source_category)")
    parser.add_argument("--per-group", type=int, default=40, help="held-out prompts per group (default 40)")
    parser.add_argument("--deployment", choices=sorted(DEPLOYMENTS), action="append",
                        help="which deployments (default: all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for route_mix.json and .md")
    parser.add_argument("--classifier", choices=("minilm", "static"), default="minilm",
                        help="request classifier (router.features.classifiers)")
    args = parser.parse_args(argv)
    # Imported here: loading the classifier and quality model takes seconds.
    from router.routing.build import shipped_features, shipped_quality

    groups = load_groups(args.index, args.per_group)
    chat = [e for e in load_catalogue().models if e.capabilities.chat]
    features = shipped_features(args.classifier)
    results = {}
    for name in args.deployment or list(DEPLOYMENTS):
        entries = [e for e in chat if DEPLOYMENTS[name](e)]
        results[name] = route_mix(groups, entries, features, shipped_quality(entries, args.classifier))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "route_mix.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = markdown(results)
    (args.out / "route_mix.md").write_text(table, encoding="utf-8")
    print(table)
    print(f"wrote {args.out}/route_mix.json and route_mix.md")


if __name__ == "__main__":
    main()
