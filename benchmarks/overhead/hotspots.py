"""Profile a running gateway with py-spy while it carries load, and summarize where its CPU goes.

py-spy samples the process from outside (no code change, `--nonblocking` so the target is never paused)
and writes collapsed stacks: one line per distinct stack, `frame;frame;...;frame <count>`, each frame
`function (file:line)`. From them: the busy share (samples / expected samples), the functions with the
most self and inclusive time, and the time per component (the package a frame's file belongs to).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Profile", "component_of", "find_py_spy", "parse_collapsed", "record"]

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_COMPONENTS = ("router", "serving", "models", "cluster", "litellm", "uvicorn", "starlette", "fastapi",
               "pydantic", "pydantic_core", "httpx", "httpcore", "h11", "anyio", "prometheus_client",
               "asyncio", "json", "uvloop", "httptools", "opentelemetry", "orjson", "openai", "aiohttp")


def find_py_spy() -> str | None:
    """py-spy beside this interpreter (Ray's dependencies bring it into our venv) or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def component_of(frame: str) -> str:
    """The package a frame belongs to, e.g. `fastapi` for `run_endpoint (fastapi/routing.py:212)`."""
    match = _FRAME.match(frame)
    path = match.group("file") if match else frame
    parts = Path(path).parts
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1:]
    for part in parts:
        name = part.removesuffix(".py")
        if name in _COMPONENTS:
            return name
    if parts and parts[-1].endswith(".py") and "python3" in "".join(parts):
        return "stdlib"
    return parts[0] if parts else "?"


def _function(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = Path(match.group("file"))
    tail = "/".join(path.parts[-2:])
    return f"{match.group('func')} ({tail})"


@dataclass
class Profile:
    """Summed collapsed stacks. `self_samples`/`inclusive` count samples per function."""

    total: int = 0
    self_samples: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    components: Counter[str] = field(default_factory=Counter)

    def top(self, counter: Counter[str], n: int = 15) -> list[tuple[str, float]]:
        """The n largest entries as (name, share of all samples in %)."""
        if not self.total:
            return []
        return [(name, 100 * count / self.total) for name, count in counter.most_common(n)]


def parse_collapsed(lines: Iterable[str]) -> Profile:
    """Sum py-spy's collapsed (`--format raw`) output. A component's share counts a stack's leaf frame."""
    profile = Profile()
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        profile.total += count
        profile.self_samples[_function(frames[-1])] += count
        profile.components[component_of(frames[-1])] += count
        for name in {_function(f) for f in frames}:
            profile.inclusive[name] += count
    return profile


def record(py_spy: str, pid: int, seconds: int, output: Path, rate_hz: int = 250) -> subprocess.Popen[bytes]:
    """Start py-spy on `pid` for `seconds`; returns the running process (wait on it, then parse `output`)."""
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", str(rate_hz),
               "--format", "raw", "--output", str(output), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
