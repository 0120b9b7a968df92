"""The results document: every request's raw timings, each step's summary, the machine and the command.

One JSON file is the single source of the numbers: the plots and the Markdown report are drawn from it
(`load_results` reads it back), so they cannot disagree with it. NaN (a metric with no values) is written
as null.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.bench.client import RequestRecord
from benchmarks.bench.metrics import SLO, summarize_step, tpot_s
from benchmarks.bench.schedule import Step

__all__ = ["SCHEMA", "build_results", "jsonable", "load_results", "machine_info", "write_results"]

SCHEMA = "stellwerk-bench/1"
DEFINITIONS = ("vLLM benchmark_serving: TTFT = send to first text chunk; ITL = gaps between text chunks, "
               "pooled over requests; TPOT = (E2E - TTFT) / (output tokens - 1); E2E = send to end of "
               "stream; throughput over the step's duration (start to last request's end); goodput = "
               "requests meeting every SLO per second.")


def machine_info() -> dict[str, Any]:
    """What ran the load generator (not necessarily what served it)."""
    info: dict[str, Any] = {
        "platform": platform.platform(), "python": platform.python_version(),
        "cpus": os.cpu_count(), "processor": _cpu_model() or platform.machine(),
        "memory_gib": _memory_gib(), "load_average": list(os.getloadavg()),
    }
    try:
        from cluster.gpu import NvmlReader

        reader = NvmlReader()
        info["gpus"] = [g.name for g in reader.read()]
        reader.close()
    except ImportError:
        info["gpus"] = []
    return info


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def record_json(record: RequestRecord) -> dict[str, Any]:
    """A request's raw timings, plus its derived TTFT and TPOT for convenience."""
    row = dataclasses.asdict(record)
    row["ttft_s"] = record.ttft_s
    row["tpot_s"] = tpot_s(record) if record.ok else None
    return row


def build_results(*, command: Sequence[str], config: dict[str, Any], steps: Sequence[Step],
                  records: Sequence[Sequence[RequestRecord]], slo: SLO, started_at: dt.datetime,
                  machine: dict[str, Any]) -> dict[str, Any]:
    """The whole results document (JSON-ready)."""
    document: dict[str, Any] = jsonable({
        "schema": SCHEMA, "tool": "stellwerk bench", "command": list(command),
        "started_at": started_at.isoformat(timespec="seconds"), "machine": machine, "config": config,
        "slo": dataclasses.asdict(slo), "definitions": DEFINITIONS,
        "steps": [{"mode": step.mode, "value": step.value, "label": step.label,
                   "summary": dataclasses.asdict(summarize_step(rows, slo)),
                   "requests": [record_json(r) for r in rows]}
                  for step, rows in zip(steps, records, strict=True)],
        "comparison": None,
    })
    return document


def jsonable(value: Any) -> Any:
    """`value` with NaN and infinities replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def write_results(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(jsonable(results), indent=1, allow_nan=False) + "\n")


def load_results(path: Path) -> dict[str, Any]:
    data: Any = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a `stellwerk bench` results file ({SCHEMA})")
    return data
