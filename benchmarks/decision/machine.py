"""What machine a benchmark ran on, and how much CPU everything else on it used meanwhile."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
from dataclasses import dataclass
from typing import Any

__all__ = ["CpuWindow", "describe_machine"]


def describe_machine() -> dict[str, Any]:
    """CPU model and core count as `lscpu` reports them, plus Python and the load average."""
    fields = {"model": "Model name", "cpus": "CPU(s)", "threads_per_core": "Thread(s) per core"}
    info: dict[str, Any] = {"python": platform.python_version(), "loadavg_1m": round(os.getloadavg()[0], 2)}
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        lines = []
    for line in lines:
        key, _, value = line.partition(":")
        for name, label in fields.items():
            if key.strip() == label:
                info[name] = value.strip()
    info.setdefault("cpus", str(os.cpu_count()))
    return info


def _busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuWindow:
    """CPU used between `start()` and `stop()`: by this process, and by every other process."""

    wall_s: float = 0.0
    own_cpu_s: float = 0.0
    others_cpu_s: float = 0.0

    def start(self) -> None:
        self._busy, self._total = _busy_jiffies()
        self._own = _own_cpu_s()

    def stop(self, wall_s: float) -> None:
        busy, _ = _busy_jiffies()
        tick = os.sysconf("SC_CLK_TCK")
        self.wall_s = wall_s
        self.own_cpu_s = _own_cpu_s() - self._own
        self.others_cpu_s = max(0.0, (busy - self._busy) / tick - self.own_cpu_s)

    def to_json(self) -> dict[str, float]:
        wall = self.wall_s or 1.0
        return {"wall_s": round(self.wall_s, 2), "own_cpu_s": round(self.own_cpu_s, 2),
                "others_cpu_s": round(self.others_cpu_s, 2),
                "others_cores_busy": round(self.others_cpu_s / wall, 2)}
