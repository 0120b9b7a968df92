"""CPU seconds of every process on the machine, read from /proc, to show what else ran during a run.

`snapshot()` before and after a measurement, `busy_elsewhere(before, after, ours)` gives the CPU time of
the processes outside the measured server's session (other users of a shared machine), by command.
`session_labels` names the processes of one session (the idle benchmark, tests/e2e/test_footprint.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcCpu", "busy_elsewhere", "process_label", "session_labels", "snapshot"]

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcCpu:
    pid: int
    session: int
    name: str
    cpu_s: float


def snapshot() -> dict[int, ProcCpu]:
    """utime + stime of each live process (processes that vanish while read are skipped)."""
    out: dict[int, ProcCpu] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        # fields[0] is field 3 (state): session is field 6, utime 14, stime 15
        out[int(entry.name)] = ProcCpu(pid=int(entry.name), session=int(fields[3]), name=name,
                                       cpu_s=(int(fields[11]) + int(fields[12])) / _TICK)
    return out


def busy_elsewhere(before: dict[int, ProcCpu], after: dict[int, ProcCpu],
                   ours: set[int]) -> dict[str, float]:
    """CPU seconds spent between the snapshots by processes whose session is not in `ours` and that
    are not this process, summed by command name, largest first."""
    spent: dict[str, float] = {}
    for pid, now in after.items():
        if now.session in ours or pid == os.getpid():
            continue
        then = before.get(pid)
        spent[now.name] = spent.get(now.name, 0.0) + now.cpu_s - (then.cpu_s if then is not None else 0.0)
    ranked = sorted(spent.items(), key=lambda item: -item[1])
    return {name: round(s, 1) for name, s in ranked if s >= 0.1}


def process_label(pid: int, fallback: str) -> str:
    """A short name for a process from its command line: Ray's and vLLM's titles without the method
    running now (`ray::ServeController`), `python -m MODULE`, a Python script's file name, or the
    program; `fallback` (e.g. the kernel's 15-character name) once the command line is gone."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return fallback
    words = [a.decode(errors="replace") for a in args if a]
    if not words:
        return fallback
    if words[0].startswith(("ray::", "VLLM::")):  # e.g. ray::ServeController.<the method it runs now>
        return words[0].split(":")[0] + "::" + words[0].split(":")[2].split(".")[0]
    if "-m" in words:
        return "python -m " + words[words.index("-m") + 1]
    scripts = [w for w in words[1:] if w.endswith(".py")]  # Ray's helpers: log_monitor.py, dashboard.py
    return Path(scripts[0]).name if scripts else Path(words[0]).name


def session_labels(processes: dict[int, ProcCpu], session: int) -> dict[int, str]:
    """`process_label` of each of `processes` in `session`, read now (while they still run)."""
    return {pid: process_label(pid, proc.name) for pid, proc in processes.items() if proc.session == session}
