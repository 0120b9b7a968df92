"""Prompt sets: synthetic prompts of controlled length, a JSONL file given by the user, or the built-in set.

Every run draws from a seed, and dataset prompts get a short random prefix per request, so that a server's
prefix cache cannot serve one run's prompts from another's (which makes TTFT look several times better).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench.builtin_prompts import BUILTIN_PROMPTS
from benchmarks.bench.lengths import LengthDist

__all__ = ["BUILTIN", "DatasetEntry", "DatasetError", "Prompt", "PromptSource", "load_dataset"]

BUILTIN = "builtin"

# Common English words that tokenizers keep as one token each (with their leading space).
_WORD_LIST = (
    "river mountain signal railway engine harbour lantern meadow copper window garden letter orchard "
    "canvas thunder pocket marble violin crystal ladder table chair house water light music paper stone "
    "forest market winter summer autumn spring morning evening bridge station ticket train road city "
    "village island ocean cloud rain snow wind fire earth metal glass bread apple orange lemon coffee "
    "sugar salt honey field farm horse bird fish tree flower grass leaf branch door wall floor roof "
    "street corner school office doctor teacher farmer driver artist writer story song dance game ball "
    "clock watch phone screen book page word number color green blue yellow purple silver golden"
)
_WORDS = tuple(_WORD_LIST.split())


class DatasetError(ValueError):
    """A prompt file that cannot be used (the message names the file and line)."""


@dataclass(frozen=True)
class Prompt:
    """One request's prompt and output budget; `input_tokens` is the requested length (None: dataset)."""

    text: str
    max_tokens: int
    input_tokens: int | None = None


@dataclass(frozen=True)
class DatasetEntry:
    """One prompt of a dataset, with its own output length if the file gives one."""

    prompt: str
    output_tokens: int | None


class PromptSource:
    """An endless, seeded stream of prompts: synthetic (`entries` None) or drawn from a list."""

    def __init__(self, output: LengthDist, *, input_dist: LengthDist | None = None,
                 entries: list[DatasetEntry] | None = None, seed: int = 0) -> None:
        if (input_dist is None) == (entries is None):
            raise ValueError("give exactly one of input_dist (synthetic) or entries (dataset)")
        self.output, self.input_dist, self.entries = output, input_dist, entries
        self.rng = random.Random(seed)

    @property
    def kind(self) -> str:
        return "synthetic" if self.entries is None else "dataset"

    def __iter__(self) -> Iterator[Prompt]:
        order: list[DatasetEntry] = []
        while True:
            if self.entries is None:
                yield self._synthetic()
                continue
            if not order:
                order = list(self.entries)
                self.rng.shuffle(order)
            yield self._from_entry(order.pop())

    def _synthetic(self) -> Prompt:
        assert self.input_dist is not None
        n = self.input_dist.sample(self.rng)
        text = " ".join(self.rng.choice(_WORDS) for _ in range(n))
        return Prompt(text, self.output.sample(self.rng), n)

    def _from_entry(self, entry: DatasetEntry) -> Prompt:
        nonce = f"[{self.rng.getrandbits(32):08x}] "
        max_tokens = entry.output_tokens or self.output.sample(self.rng)
        return Prompt(nonce + entry.prompt, max_tokens)


def load_dataset(source: str | Path) -> list[DatasetEntry]:
    """`builtin`, or a JSONL file: one object per line with "prompt" (text) and optional "output_tokens"."""
    if str(source) == BUILTIN:
        return [DatasetEntry(p, None) for p in BUILTIN_PROMPTS]
    path = Path(source)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"cannot read dataset {path}: {exc.strerror or exc}") from None
    entries = [_parse_line(path, number, line) for number, line in enumerate(lines, 1) if line.strip()]
    if not entries:
        raise DatasetError(f"{path}: no prompts (expected JSON lines with a \"prompt\" field)")
    return entries


def _parse_line(path: Path, number: int, line: str) -> DatasetEntry:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{number}: not JSON ({exc.msg})") from None
    if not isinstance(row, dict) or not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
        raise DatasetError(f"{path}:{number}: expected an object with a non-empty string \"prompt\"")
    out = row.get("output_tokens")
    if out is not None and (not isinstance(out, int) or isinstance(out, bool) or out < 1):
        raise DatasetError(f"{path}:{number}: \"output_tokens\" must be a positive integer")
    return DatasetEntry(row["prompt"], out)
