"""Build a performance profile from a `stellwerk bench` results file (schema stellwerk-bench/1).

Each step becomes one point. Concurrency steps use their concurrency; rate steps use the mean number in
flight by Little's law (completed requests/s x mean end-to-end latency). p95 is not in the bench
summary: it is interpolated between p90 and p99 (p90 + (p99 - p90) x 5/9, linear in rank).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from benchmarks.cost.yaml_file import DataFileError, describe
from benchmarks.planner.profiles import PerformanceProfile

__all__ = ["profile_from_bench", "read_bench_results"]

BENCH_SCHEMA = "stellwerk-bench/1"


def read_bench_results(path: Path) -> dict[str, Any]:
    """The results document; DataFileError when it is not a readable `stellwerk bench` file."""
    import json

    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read the bench results: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != BENCH_SCHEMA:
        raise DataFileError(f"{path}: not a `stellwerk bench` results file (schema {BENCH_SCHEMA})")
    return data


def profile_from_bench(results: dict[str, Any], *, model: str | None, hardware: str, source: str,
                       units_per_replica: int = 1, input_token_weight: float = 0.1,
                       concurrencies: Sequence[float] | None = None) -> PerformanceProfile:
    """A `measured` profile from the results' steps (only those at `concurrencies`, if given)."""
    steps = [s for s in results.get("steps", []) if s["summary"]["completed"] > 0]
    points = sorted((_point(s) for s in steps), key=lambda p: float(p["concurrency"]))
    if concurrencies is not None:
        wanted = {float(c) for c in concurrencies}
        points = [p for p in points if float(p["concurrency"]) in wanted]
    if not points:
        raise DataFileError(f"{source}: no step with completed requests"
                            + (f" at concurrency {sorted(set(concurrencies))}" if concurrencies else ""))
    used = [s for s in steps if _concurrency(s) in {float(p["concurrency"]) for p in points}]
    raw = {
        "model": model or results.get("config", {}).get("model", "unknown"), "hardware": hardware,
        "units_per_replica": units_per_replica, "provenance": "measured",
        "source": f"{source}: {' '.join(results.get('command', []))}; machine {_machine(results)}",
        "as_of": str(results.get("started_at", dt.date.today().isoformat()))[:10],
        "engine": "as served at " + str(results.get("config", {}).get("url", "?")),
        "workload": {"input_tokens": _mean(used, "mean_input_tokens"),
                     "output_tokens": _mean(used, "mean_output_tokens")},
        "input_token_weight": input_token_weight, "points": points,
    }
    try:
        return PerformanceProfile.model_validate(raw)
    except ValidationError as exc:
        raise DataFileError(describe(source, "", exc, "profile built from bench results")) from exc


def _concurrency(step: dict[str, Any]) -> float:
    s = step["summary"]
    if step["mode"] == "concurrency":
        return float(step["value"])
    return round(float(s["request_throughput"]) * float(s["e2e_ms"]["mean"]) / 1000, 3)


def _p95(dist: dict[str, Any]) -> float | None:
    p90, p99 = dist.get("p90"), dist.get("p99")
    return None if p90 is None or p99 is None else p90 + (p99 - p90) * 5 / 9


def _point(step: dict[str, Any]) -> dict[str, Any]:
    s = step["summary"]
    return {"concurrency": _concurrency(step), "output_tokens_per_s": s["output_throughput"],
            "ttft_ms": {"p50": s["ttft_ms"]["p50"], "p95": _p95(s["ttft_ms"])},
            "tpot_ms": {"p50": s["tpot_ms"]["p50"] or 0.0, "p95": _p95(s["tpot_ms"])}}


def _mean(steps: list[dict[str, Any]], key: str) -> float:
    values = [float(s["summary"][key]) for s in steps if s["summary"].get(key) is not None]
    return sum(values) / len(values) if values else 1.0


def _machine(results: dict[str, Any]) -> str:
    m = results.get("machine", {})
    gpus = ", ".join(m.get("gpus") or []) or "no GPU"
    return f"{m.get('processor', '?')}, {m.get('cpus', '?')} CPUs, {gpus}"
