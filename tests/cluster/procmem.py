"""Memory readings of process trees and of the machine, from /proc (Linux)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["GIB", "ProcMemory", "children", "mem_gib", "process_memory", "tree", "tree_memory"]

GIB = 1024 ** 3
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcMemory:
    """Resident (RSS) and proportional (PSS: shared pages divided among their users) bytes."""

    rss: int
    pss: int

    def __add__(self, other: ProcMemory) -> ProcMemory:
        return ProcMemory(self.rss + other.rss, self.pss + other.pss)


def process_memory(pid: int) -> ProcMemory:
    """One process's RSS and PSS (zero if it has gone)."""
    fields: dict[str, int] = {}
    try:
        text = (PROC / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return ProcMemory(0, 0)
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            fields[name] = int(rest.split()[0]) * 1024
    return ProcMemory(fields.get("Rss", 0), fields.get("Pss", 0))


def children(pid: int) -> list[int]:
    """Direct children of `pid` (every thread's children file)."""
    found: list[int] = []
    for task in (PROC / str(pid) / "task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return sorted(set(found))


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += children(current)
    return out


def tree_memory(pid: int) -> ProcMemory:
    total = ProcMemory(0, 0)
    for p in tree(pid):
        total = total + process_memory(p)
    return total


def mem_gib(field: str) -> float:
    """A /proc/meminfo field ("MemTotal", "MemAvailable", ...) in GiB."""
    for line in (PROC / "meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == field:
            return int(rest.split()[0]) * 1024 / GIB
    raise KeyError(field)
