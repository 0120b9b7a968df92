"""The numbers of the model card, computed on the held-out prompts (training time only).

- `seen`: per-model AUC, Brier and ECE for models whose outcomes were trained on (other prompts).
- `leave_models_out`: refit without LEFT_OUT models; each is then described only by its accuracy per
  category on the training prompts (what a benchmark report gives), mapped to abilities by the same
  test-characteristic-curve inversion the published scores use, and scored on the held-out prompts.
- `published`: the catalogue models that are exactly training-data models, described only by their
  published scores in models/quality.yaml (offsets calibrated without that model).
- `routing`: `evaluate.routing_check` on the held-out prompts, per pool of models with prices.
- `probes`: predictions for open-ended prompts written for this card, per catalogue chat model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np

from models.catalogue import load_catalogue
from models.categories import CATEGORIES
from models.quality import QualityTable
from router.features.cache import EmbeddingCache
from router.features.heads import LinearHead
from router.features.text import classifier_text
from router.quality.descriptor import ModelDescriptor
from router.quality.evaluate import CostModel, calibration, routing_check
from router.quality.fit import Anchors, FitResult, Outcomes, fit_irt
from router.quality.model import QualityModel
from router.quality.predictor import catalogue_descriptors
from router.quality.profile import PromptProfile
from router.quality.scale import AbilityScale

__all__ = ["LEFT_OUT", "PROBES", "evaluate"]

_log = logging.getLogger(__name__)
LEFT_OUT: Final = ("Qwen2.5-7B-Instruct", "gemma-2-9b-it", "gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022",
                   "gemini-1.5-pro-002")
LAMBDAS: Final = (0.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
COVERAGE: Final = 0.95
PROBES: Final = (
    "hi there",
    "What is the capital of France?",
    "Thanks! Can you recommend a good book for a long flight?",
    "Give me three tips for running my first marathon.",
    "Extract every date and amount from this text as JSON: On 3 May 2024 Anna paid 120 EUR to Ben, "
    "and on 9 June he paid her back 45 EUR.",
    "Summarise in one sentence: The city council approved a bike lane network that will connect the "
    "university, the train station and the old town by 2027, funded by a regional grant.",
    "Write a haiku about coffee.",
    "Write a 2000-word short story set on a generation ship, told by three narrators, with a twist ending.",
    "Prove that there are infinitely many primes.",
    "Prove that every planar graph is 5-colourable.",
    "Implement a lock-free multi-producer multi-consumer queue in C++ and explain the memory ordering "
    "of every atomic operation.",
    "A farmer has 17 sheep and all but 9 run away. He then buys twice as many as he has left and sells "
    "a third of his flock. How many sheep does he have? Explain step by step.",
    "Write a detailed design document for a rate limiter that works across several data centres, "
    "including failure modes and consistency trade-offs.",
)


def evaluate(model: QualityModel, fit: FitResult, ds: dict[str, Any], anchors: Anchors,
             cache: EmbeddingCache, head: LinearHead) -> dict[str, Any]:
    held = ds["held"]
    d, a = fit.prompt_params(ds["x"])
    probs = ds["probs"]
    full = QualityModel.predict_many(d.astype(np.float32), a.astype(np.float32), probs, fit.ability)
    test: Outcomes = ds["test"]
    names = ds["names"]
    split = {"held_out_prompts": int(held.sum()), "train_prompts": int((~held).sum()),
             "held_out_outcomes": len(test.label), "train_outcomes": len(ds["train"].label)}
    out: dict[str, Any] = {"split": split}
    out["seen"] = _seen(full, test, names, ds)
    _log.info("seen models: pooled AUC %.3f", out["seen"]["pooled"]["auc"])
    out["leave_models_out"] = _leave_models_out(ds, anchors, out["seen"]["per_model"])
    out["published"] = _published(model, full, ds)
    out["routing"] = _routing(full, ds)
    out["anchors_trained_on"] = _anchor_summary(anchors, fit, ds)
    out["probes"] = _probes(model, cache, head)
    return out


def _seen(p: np.ndarray, test: Outcomes, names: list[str], ds: dict[str, Any]) -> dict[str, Any]:
    pred = p[test.prompt, test.model].astype(np.float64)
    sources = np.array([ds["rows"][i].source for i in test.prompt])
    per_model = {n: calibration(test.label[test.model == j], pred[test.model == j])
                 for j, n in enumerate(names) if np.sum(test.model == j) >= 20}
    per_source = {s: calibration(test.label[sources == s], pred[sources == s]) for s in np.unique(sources)}
    return {"pooled": calibration(test.label, pred), "per_source": per_source, "per_model": per_model}


def _leave_models_out(ds: dict[str, Any], anchors: Anchors, seen: dict[str, Any]) -> dict[str, Any]:
    names = ds["names"]
    left = [names.index(n) for n in LEFT_OUT if n in names]
    train: Outcomes = ds["train"]
    keep = ~np.isin(train.model, left)
    _log.info("leave-models-out refit without %s", ", ".join(LEFT_OUT))
    fit = fit_irt(ds["x"], ds["w"], Outcomes(train.prompt[keep], train.model[keep], train.label[keep]),
                  len(names), anchors=anchors)
    d, a = fit.prompt_params(ds["x"])
    test: Outcomes = ds["test"]
    result: dict[str, Any] = {"left_out": list(LEFT_OUT), "per_model": {}}
    for j in left:
        ability = _ability_from_accuracy(ds, train, j, d, a)
        mine = test.model == j
        p = QualityModel.predict_many(d[test.prompt[mine]].astype(np.float32),
                                      a[test.prompt[mine]].astype(np.float32),
                                      ds["probs"][test.prompt[mine]], ability[None, :])[:, 0]
        result["per_model"][names[j]] = {
            "from_descriptor": calibration(test.label[mine], p.astype(np.float64)),
            "seen_in_training": seen.get(names[j])}
    return result


def _ability_from_accuracy(ds: dict[str, Any], train: Outcomes, j: int, d: np.ndarray,
                           a: np.ndarray) -> np.ndarray:
    """Per category: the ability whose expected accuracy on the model's own training prompts of that
    category (argmax) equals its observed accuracy there; other categories get the mean of those."""
    mine = train.model == j
    prompts, labels = train.prompt[mine], train.label[mine]
    top = np.argmax(ds["w"][prompts], axis=1)
    found: dict[int, float] = {}
    for k in range(len(CATEGORIES)):
        sel = top == k
        if sel.sum() >= 30:
            pool = np.stack([a[prompts[sel]], d[prompts[sel]]], axis=1)[None, :, :]
            scale = AbilityScale(np.repeat(pool, len(CATEGORIES), axis=0).astype(np.float32),
                                 np.zeros(len(CATEGORIES), dtype=np.float32))
            found[k] = scale.raw_ability(k, float(labels[sel].mean()))
    mean = float(np.mean(list(found.values())))
    return np.array([found.get(k, mean) for k in range(len(CATEGORIES))])


def _published(model: QualityModel, full: np.ndarray, ds: dict[str, Any]) -> dict[str, Any]:
    from router.quality.train import ALIASES, calibrate_offsets

    table = QualityTable.load()
    test: Outcomes = ds["test"]
    out = {}
    for catalogue_id, name in ALIASES.items():
        offsets, _ = calibrate_offsets(model, table, ALIASES, skip=name)
        loo = QualityModel(model.difficulty_w, model.difficulty_b, model.discrimination_w,
                           model.discrimination_b,
                           AbilityScale(model.scale.pools, offsets.astype(np.float32)),
                           model.train_models, model.train_ability, model.train_measured, model.metadata)
        scores = {c: float(table.score(catalogue_id, c) or 0.0) for c in CATEGORIES}
        descriptor = loo.descriptor_from_scores(catalogue_id, scores)
        j = ds["names"].index(name)
        mine = test.model == j
        rows = test.prompt[mine]
        d, a = model.prompt_params(ds["x"][rows].astype(np.float32))
        p = QualityModel.predict_many(d, a, ds["probs"][rows], np.array([descriptor.ability]))[:, 0]
        out[catalogue_id] = {"training_name": name,
                             "published_only": calibration(test.label[mine], p.astype(np.float64)),
                             "measured": calibration(test.label[mine], full[rows, j].astype(np.float64)),
                             "ability_published": _by_category(descriptor.ability),
                             "ability_measured": _by_category(model.train_ability[j])}
    return out


def _by_category(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    return {c: round(float(v), 3) for c, v in zip(CATEGORIES, values, strict=True)}


def _routing(full: np.ndarray, ds: dict[str, Any]) -> dict[str, Any]:
    rows, names, info = ds["rows"], ds["names"], ds["info"]
    held_idx = np.flatnonzero(ds["held"])
    cost_model = CostModel()
    pools: dict[str, Callable[[str], bool]] = {
        "ZeroEval (GSM8K, MATH-L5, CRUX-O)": lambda s: s.startswith("ZeroEval"),
        "MMLU-Pro": lambda s: s == "MMLU-Pro"}
    out = {}
    for label, match in pools.items():
        prompts = [i for i in held_idx if match(rows[i].source)]
        priced = [n for n in names if info.get(n, {}).get("price_in") is not None]
        coverage = {n: np.mean([n in rows[i].scores for i in prompts]) for n in priced}
        models = [n for n in priced if coverage[n] >= COVERAGE]
        prompts = [i for i in prompts if all(n in rows[i].scores for n in models)]
        y = np.array([[rows[i].scores[n] for n in models] for i in prompts], dtype=np.float64)
        cols = [names.index(n) for n in models]
        p = full[np.ix_(prompts, cols)].astype(np.float64)
        chars = np.array([len(rows[i].text) for i in prompts], dtype=np.float64)
        cost = np.stack([cost_model.cost(chars, info[n]["price_in"], info[n]["price_out"], n.startswith("o1"))
                         for n in models], axis=1)
        out[label] = routing_check(y, p, cost, models, LAMBDAS)
    out["cost_model"] = {"input_tokens": "prompt characters / 4", "output_tokens": cost_model.output_tokens,
                         "reasoning_models_output_factor": cost_model.reasoning_factor,
                         "prices": "multimodel/MODELS.md (litellm 1.55.0, Dec 2024)"}
    return out


def _anchor_summary(anchors: Anchors, fit: FitResult, ds: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, x in (("easy", anchors.easy), ("hard", anchors.hard)):
        d, _ = fit.prompt_params(x)
        out[kind] = {"n": len(x), "median_difficulty": round(float(np.median(d)), 3),
                     "share_within_bound": round(float(np.mean(d <= anchors.easy_target) if kind == "easy"
                                                       else np.mean(d >= anchors.hard_target)), 3)}
    d, _ = fit.prompt_params(ds["x"][~ds["held"]])
    out["training_prompts_median_difficulty"] = round(float(np.median(d)), 3)
    return out


def _probes(model: QualityModel, cache: EmbeddingCache, head: LinearHead) -> dict[str, Any]:
    from router.quality.train import category_probs

    x = cache.embed([classifier_text(t) for t in PROBES])
    profiles = model.profiles(x, category_probs(head, x).astype(np.float32))
    descriptors: dict[str, ModelDescriptor] = catalogue_descriptors(model, load_catalogue().models,
                                                                    QualityTable.load())
    table = {}
    for text, profile in zip(PROBES, profiles, strict=True):
        weights = np.array(profile.weights)
        weights[CATEGORIES.index("tool_use")] = 0.0  # as FeatureExtractor labels a request without tools
        top = CATEGORIES[int(np.argmax(weights))]
        table[text] = {"difficulty": round(profile.difficulty, 3), "category": top,
                       "p": {m: round(model.predict(profile, desc), 3) for m, desc in descriptors.items()}}
    return {"descriptors": {m: d.to_json() for m, d in descriptors.items()}, "prompts": table,
            "latency_us": _latency(model, x, profiles[0], list(descriptors.values()))}


def _latency(model: QualityModel, x: np.ndarray, profile: PromptProfile,
             descriptors: list[ModelDescriptor]) -> dict[str, float]:
    """Mean wall time of one profile and of one prediction (busy shared machine: indicative only)."""
    probs = np.full((1, len(CATEGORIES)), 1.0 / len(CATEGORIES), dtype=np.float32)
    start = time.perf_counter()
    for _ in range(2000):
        model.profiles(x[:1], probs)
    profile_us = (time.perf_counter() - start) / 2000 * 1e6
    start = time.perf_counter()
    for _ in range(2000):
        for descriptor in descriptors:
            model.predict(profile, descriptor)
    predict_us = (time.perf_counter() - start) / (2000 * len(descriptors)) * 1e6
    return {"profile": round(profile_us, 1), "predict": round(predict_us, 2)}
