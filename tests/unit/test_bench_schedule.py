"""`stellwerk bench` load: arrival schedules, sweeps, length distributions, prompt sets, step bounds."""

from __future__ import annotations

import itertools
import json
import statistics
from pathlib import Path

import httpx
import pytest

from benchmarks.bench.client import RequestRecord, RequestSettings
from benchmarks.bench.lengths import LengthDist, LengthSpecError, parse_length
from benchmarks.bench.prompts import BUILTIN, DatasetError, PromptSource, load_dataset
from benchmarks.bench.runner import Bounds, Target, run_steps
from benchmarks.bench.schedule import Step, SweepError, arrival_offsets, parse_sweep


def _take(step: Step, seed: int, n: int) -> list[float]:
    return list(itertools.islice(arrival_offsets(step, seed), n))


def test_constant_arrivals_are_evenly_spaced() -> None:
    assert _take(Step("constant", 4), 0, 5) == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])


def test_poisson_arrivals_have_the_mean_rate_and_exponential_gaps() -> None:
    offsets = _take(Step("poisson", 5.0), seed=11, n=20001)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert offsets[0] == 0.0
    assert statistics.mean(gaps) == pytest.approx(1 / 5, rel=0.03)
    # exponential: standard deviation equals the mean (a constant schedule would give 0)
    assert statistics.stdev(gaps) == pytest.approx(1 / 5, rel=0.05)


def test_poisson_arrivals_are_deterministic_for_a_seed() -> None:
    step = Step("poisson", 2.0)
    assert _take(step, 3, 50) == _take(step, 3, 50)
    assert _take(step, 3, 50) != _take(step, 4, 50)


def test_a_concurrency_step_has_no_schedule() -> None:
    with pytest.raises(ValueError, match="no arrival schedule"):
        arrival_offsets(Step("concurrency", 2), 0)


def test_sweeps_parse_and_refuse_nonsense() -> None:
    assert parse_sweep("rate:1,2.5", "constant") == [Step("constant", 1), Step("constant", 2.5)]
    assert parse_sweep("concurrency:1,4") == [Step("concurrency", 1), Step("concurrency", 4)]
    for bad in ("rate", "speed:1,2", "rate:1,x", "rate:0", "concurrency:1.5", "concurrency:0"):
        with pytest.raises(SweepError, match="bad sweep"):
            parse_sweep(bad)


@pytest.mark.parametrize(("text", "dist"), [
    ("64", LengthDist("fixed", 64)), ("fixed:8", LengthDist("fixed", 8)),
    ("uniform:10,20", LengthDist("uniform", 10, 20)), ("normal:100,0", LengthDist("normal", 100, 0)),
])
def test_lengths_parse(text: str, dist: LengthDist) -> None:
    assert parse_length(text) == dist


@pytest.mark.parametrize("text", ["0", "x", "uniform:5", "uniform:9,3", "normal:1", "gauss:3,1", "-4"])
def test_bad_lengths_are_refused(text: str) -> None:
    with pytest.raises(LengthSpecError, match="bad length"):
        parse_length(text)


def test_length_distributions_sample_within_their_shape() -> None:
    import random

    rng = random.Random(0)
    uniform = [LengthDist("uniform", 10, 20).sample(rng) for _ in range(2000)]
    assert min(uniform) == 10 and max(uniform) == 20
    normal = [LengthDist("normal", 100, 10).sample(rng) for _ in range(4000)]
    assert statistics.mean(normal) == pytest.approx(100, rel=0.02)
    assert statistics.stdev(normal) == pytest.approx(10, rel=0.1)
    assert min(LengthDist("normal", 2, 50).sample(rng) for _ in range(200)) >= 1


def test_synthetic_prompts_have_the_requested_word_count_and_differ_by_seed() -> None:
    source = PromptSource(LengthDist("fixed", 7), input_dist=LengthDist("uniform", 5, 9), seed=1)
    prompts = list(itertools.islice(source, 50))
    assert all(len(p.text.split()) == p.input_tokens and 5 <= len(p.text.split()) <= 9 for p in prompts)
    assert all(p.max_tokens == 7 for p in prompts)
    again = PromptSource(LengthDist("fixed", 7), input_dist=LengthDist("uniform", 5, 9), seed=1)
    other = PromptSource(LengthDist("fixed", 7), input_dist=LengthDist("uniform", 5, 9), seed=2)
    assert [p.text for p in itertools.islice(again, 50)] == [p.text for p in prompts]
    assert [p.text for p in itertools.islice(other, 50)] != [p.text for p in prompts]


def test_dataset_prompts_come_from_the_file_with_a_fresh_prefix(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"prompt": "first", "output_tokens": 5}) + "\n\n"
                    + json.dumps({"prompt": "second"}) + "\n")
    entries = load_dataset(path)
    prompts = list(itertools.islice(PromptSource(LengthDist("fixed", 9), entries=entries, seed=0), 4))
    assert sorted(p.text.split("] ", 1)[1] for p in prompts) == ["first", "first", "second", "second"]
    assert {(p.text.split("] ", 1)[1], p.max_tokens) for p in prompts} == {("first", 5), ("second", 9)}
    assert len({p.text for p in prompts}) == 4  # the prefix differs on every use


@pytest.mark.parametrize(("content", "message"), [
    ("", "no prompts"), ("{not json\n", ":1: not JSON"), ('{"text": "x"}\n', ':1: expected an object'),
    ('{"prompt": "x", "output_tokens": 0}\n', ':1: "output_tokens" must be'),
])
def test_bad_datasets_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        load_dataset(path)


def test_the_builtin_set_and_a_missing_file() -> None:
    assert len(load_dataset(BUILTIN)) >= 20
    with pytest.raises(DatasetError, match="cannot read dataset"):
        load_dataset("/nonexistent/prompts.jsonl")


def _instant_server(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    text = b"".join(b'data: {"choices":[{"index":0,"delta":{"content":"w"}}]}\n\n'
                    for _ in range(body["max_tokens"]))
    return httpx.Response(200, content=text + b"data: [DONE]\n\n")


async def _run(steps: list[Step], bounds: Bounds) -> list[list[RequestRecord]]:
    source = PromptSource(LengthDist("fixed", 3), input_dist=LengthDist("fixed", 4), seed=0)
    target = Target("http://bench.test/v1", RequestSettings("m"))
    return await run_steps(target, steps, iter(source), bounds, seed=0, warmup=2, show_progress=False,
                           transport=httpx.MockTransport(_instant_server))


async def test_each_step_stops_at_its_request_bound() -> None:
    steps = [Step("concurrency", 3), Step("constant", 200.0), Step("poisson", 200.0)]
    results = await _run(steps, Bounds(requests=7))
    assert [len(r) for r in results] == [7, 7, 7]  # warm-up requests are not counted
    for records in results:
        assert [r.index for r in records] == list(range(7))
        assert all(r.ok and r.output_tokens == 3 for r in records)


async def test_a_rate_step_stops_sending_at_its_duration() -> None:
    (records,) = await _run([Step("constant", 10.0)], Bounds(duration_s=0.25))
    # planned at 0, 0.1 and 0.2 s; the one planned at 0.3 s is past the bound
    assert len(records) == 3
