"""`python -m benchmarks.decision.approx`: how closely the approximated static vectors
(`router.features.train_approx`) reproduce MiniLM's served vectors, and whether MiniLM's own heads and
quality model, applied to them unchanged, take the same decisions.

On seeded held-out prompts of the routing prompt index (`split.is_held_out`): vector cosine, category
top-1 agreement and p_weak_ok difference (`agreement`); the chosen model and each candidate's
predicted quality under the shipped objective with idle telemetry for the whole catalogue (as
`decision_agreement`), and the chosen model for a CPU box (the 270M base model plus the frontier
APIs, `benchmarks.eval.route_mix`); and where the small-talk prompts the e2e tests expect to stay on
the local base model go. E.g.

    python -m router.features.train_approx --data ../shared/data/routing --out /tmp/approx
    python -m benchmarks.decision.approx --approx /tmp/approx/approx.npz --prompts 300
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.decision.agreement import agreement
from benchmarks.decision.driver import build_service
from benchmarks.eval.route_mix import DEPLOYMENTS, Group, route_mix
from cluster.telemetry import TelemetrySnapshot
from models.catalogue import load_catalogue
from models.prepare import default_cache_root
from models.static_distill import prepare_static_table
from router.features.embedder import default_embedder, minilm_folder
from router.features.extract import FeatureExtractor
from router.features.split import is_held_out
from router.features.static_embedder import StaticEmbedder
from router.features.text import classifier_text
from router.features.train_approx import WINDOW_TOKENS, Approximation, corpus
from router.routing.build import shipped_quality
from router.schemas import ChatCompletionRequest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INDEX = REPO_ROOT.parent / "shared" / "data" / "routing" / "router_prompts_index.jsonl.gz"
SMALL_TALK = ("hi there", "thanks!", "Tell me a joke.")


def held_out_prompts(index: Path, count: int, seed: int = 0, *, side: str = "held-out") -> list[str]:
    """`count` distinct held-out prompts of the index, a seeded sample (`side` "train": prompts of
    the corpus the approximation was fitted on instead, its in-sample ceiling)."""
    if side == "train":
        prompts = corpus(index.parent)
    else:
        with gzip.open(index, "rt", encoding="utf-8") as rows:
            prompts = [p for p in dict.fromkeys(str(json.loads(line)["prompt"]) for line in rows)
                       if is_held_out(p)]
    random.Random(seed).shuffle(prompts)
    return prompts[:count]


def approx_extractor(approx: Path) -> FeatureExtractor:
    """MiniLM's shipped heads and quality model over the approximated static vectors."""
    t0 = np.load(prepare_static_table(minilm_folder(), default_cache_root()), allow_pickle=False)
    table = Approximation.load(approx).table(t0)
    embedder = StaticEmbedder(table, minilm_folder() / "tokenizer.json", max_tokens=WINDOW_TOKENS)
    return FeatureExtractor.load(embedder=embedder)


def compare(reference: FeatureExtractor, approx: FeatureExtractor, prompts: Sequence[str]) -> dict[str, Any]:
    result = agreement(reference, approx, [classifier_text(p) for p in prompts])
    cosines = np.sum(reference.embed(prompts) * approx.embed(prompts), axis=1)
    result["cosine_p5"] = round(float(np.percentile(cosines, 5)), 4)
    requests = [ChatCompletionRequest.model_validate(
        {"model": "auto", "messages": [{"role": "user", "content": p}]}) for p in prompts]
    result["full_catalogue"] = asyncio.run(_full_catalogue(reference, approx, requests))
    entries = [e for e in load_catalogue().models if e.capabilities.chat and DEPLOYMENTS["cpu-box"](e)]
    quality = shipped_quality(entries)  # MiniLM's quality model: the approximated vectors use it unchanged
    groups = [Group(p, (p,)) for p in [*prompts, *SMALL_TALK]]
    ref, new = (route_mix(groups, entries, x, quality) for x in (reference, approx))
    n = len(prompts)
    same = sum(a["models"] == b["models"] for a, b in zip(ref[:n], new[:n], strict=True))
    result["cpu_box"] = {"decisions": len(prompts), "same_model": round(same / max(len(prompts), 1), 4)}
    result["small_talk_cpu_box"] = {text: {"minilm": a["models"], "approx": b["models"]}
                                    for text, a, b in zip(SMALL_TALK, ref[len(prompts):],
                                                          new[len(prompts):], strict=True)}
    return result


async def _full_catalogue(reference: FeatureExtractor, approx: FeatureExtractor,
                          requests: Sequence[ChatCompletionRequest]) -> dict[str, Any]:
    """Same chosen model (as `decision_agreement`: every chat model available, idle telemetry), and
    how far each candidate's predicted quality moves."""
    services = [build_service(x, lambda: TelemetrySnapshot()) for x in (reference, approx)]
    same, moves = 0, []
    for i, request in enumerate(requests):
        ref, new = [await s.decide(request, None, request_id=f"approx-{i}", dry_run=True) for s in services]
        same += ref.chosen.id == new.chosen.id
        quality = {c.model: c.quality for c in new.candidates}
        moves += [abs(c.quality - q) for c in ref.candidates
                  if c.quality is not None and (q := quality.get(c.model)) is not None]
    for service in services:
        service.close()
    diffs = np.array(moves or [0.0])
    return {"decisions": len(requests), "same_model": round(same / max(len(requests), 1), 4),
            "quality_abs_diff_mean": round(float(diffs.mean()), 4),
            "quality_abs_diff_p95": round(float(np.percentile(diffs, 95)), 4)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decision.approx", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--approx", type=Path, required=True, help="approx.npz from train_approx")
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="the routing prompt index")
    parser.add_argument("--prompts", type=int, default=300, help="held-out prompts compared")
    parser.add_argument("--side", choices=("held-out", "train"), default="held-out",
                        help="held-out prompts, or the fitted corpus (train: the in-sample ceiling)")
    parser.add_argument("--out", type=Path, help="write the result JSON here too")
    args = parser.parse_args(argv)
    result = compare(FeatureExtractor.load(embedder=default_embedder()), approx_extractor(args.approx),
                     held_out_prompts(args.index, args.prompts, side=args.side))
    text = json.dumps(result, indent=2) + "\n"
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
