"""CPU time a process tree used, read from /proc (Linux): how many CPU milliseconds each request cost a
gateway, the fake and the load generator itself — the number that bounds the sustained rate."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["cpu_seconds", "descendants", "parse_stat"]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def parse_stat(text: str) -> tuple[int, float]:
    """(parent pid, user + system CPU seconds) from the text of /proc/<pid>/stat."""
    # NOTE: the command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rindex(")") + 2:].split()
    ppid = int(fields[1])
    utime, stime = int(fields[11]), int(fields[12])
    return ppid, (utime + stime) / _TICKS


def _all_stats(proc: Path) -> dict[int, tuple[int, float]]:
    stats = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = parse_stat((entry / "stat").read_text())
            except (OSError, ValueError):
                continue  # the process ended while we looked
    return stats


def descendants(root: int, parents: dict[int, int]) -> set[int]:
    """`root` and every process below it, from a pid -> parent pid map."""
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return tree


def cpu_seconds(roots: Iterable[int], proc: Path = Path("/proc")) -> dict[int, float]:
    """CPU seconds used so far by each root's process tree (0 for a root that is gone)."""
    stats = _all_stats(proc)
    parents = {pid: ppid for pid, (ppid, _) in stats.items()}
    return {root: sum(stats[p][1] for p in descendants(root, parents) if p in stats) for root in roots}
