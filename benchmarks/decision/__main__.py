"""`python -m benchmarks.decision`: the routing decision under open-loop load, per request classifier:
MiniLM on torch (`torch`), MiniLM as the int8 ONNX graph (`onnx`, the default classifier) and the
static token table distilled from it (`static`, with its own heads); `approx`: the static table fitted
to MiniLM's vectors (`router.features.train_approx`, `--approx approx.npz`) under MiniLM's own heads.

Run it alone on the machine where possible (it is a CPU benchmark), e.g.
``.venv/bin/python -m benchmarks.decision --duration 30``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import json
import random
from pathlib import Path
from typing import Any

from benchmarks.decision.agreement import agreement, decision_agreement
from benchmarks.decision.driver import run_phase
from benchmarks.decision.machine import describe_machine
from benchmarks.decision.report import markdown
from router.features.classifiers import load_classifier
from router.features.embedder import Embedder, MiniLMEmbedder, default_embedder
from router.features.extract import FeatureExtractor
from router.features.onnx_embedder import OnnxEmbedder
from router.features.text import classifier_text
from router.schemas import ChatCompletionRequest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PROMPTS = REPO_ROOT.parent / "shared" / "data" / "routing" / "router_prompts_index.jsonl.gz"
EMBEDDERS = ("torch", "onnx", "static", "approx")


def _prompts(path: Path, sample: int, seed: int) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as rows:
        prompts = [str(json.loads(line)["prompt"]) for line in rows]
    random.Random(seed).shuffle(prompts)
    return prompts[:sample]


def _extractor(name: str, approx: Path | None = None) -> FeatureExtractor:
    if name == "approx":
        from benchmarks.decision.approx import approx_extractor

        if approx is None:
            raise SystemExit("--embedders approx needs --approx approx.npz (router.features.train_approx)")
        return approx_extractor(approx)
    if name == "static":
        return load_classifier("static")  # its own heads: they fit only the static vectors
    return FeatureExtractor.load(embedder=_embedder(name))


def _embedder(name: str) -> Embedder:
    if name == "torch":
        return MiniLMEmbedder()
    embedder = default_embedder()
    if not isinstance(embedder, OnnxEmbedder):
        raise SystemExit("the ONNX encoder is unavailable here (see the warning above)")
    return embedder


async def _run(args: argparse.Namespace, prompts: list[str]) -> dict[str, Any]:
    extractors = {name: _extractor(name, args.approx) for name in args.embedders}
    requests = [ChatCompletionRequest.model_validate(
        {"model": "auto", "messages": [{"role": "user", "content": p}]}) for p in prompts]
    result: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": describe_machine(),
        "rate_per_s": args.rate, "duration_s": args.duration, "prompts": len(prompts), "phases": []}
    for _ in range(args.rounds):
        for name, extractor in extractors.items():
            phase = await run_phase(name, extractor, requests, rate=args.rate, duration_s=args.duration,
                                    seed=args.seed, classifier="static" if name == "static" else None)
            result["phases"].append(phase.to_json())
            print(json.dumps(result["phases"][-1]), flush=True)
    if {"torch", "onnx"} <= extractors.keys() and args.agreement:
        texts = [classifier_text(p) for p in prompts[:args.agreement]]
        result["agreement"] = agreement(extractors["torch"], extractors["onnx"], texts)
        result["agreement"]["decision"] = await decision_agreement(
            extractors["torch"], extractors["onnx"], requests[:args.agreement])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decision", description=__doc__)
    parser.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS, help="router_prompts_index JSONL.gz")
    parser.add_argument("--sample", type=int, default=2000, help="prompts drawn (seeded) from the file")
    parser.add_argument("--rate", type=float, default=50.0, help="arrivals per second (Poisson)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per embedder and round")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the embedders this many times")
    parser.add_argument("--embedders", type=lambda s: s.split(","), default=list(EMBEDDERS[:3]))
    parser.add_argument("--agreement", type=int, default=300, help="prompts for the torch/ONNX check")
    parser.add_argument("--approx", type=Path, help="approx.npz for the `approx` embedder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "decision")
    args = parser.parse_args(argv)
    unknown = set(args.embedders) - set(EMBEDDERS)
    if unknown:
        parser.error(f"unknown embedders {sorted(unknown)}; known: {', '.join(EMBEDDERS)}")
    result = asyncio.run(_run(args, _prompts(args.prompts, args.sample, args.seed)))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decision.json").write_text(json.dumps(result, indent=2) + "\n")
    report = markdown(result)
    (args.out / "decision.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
