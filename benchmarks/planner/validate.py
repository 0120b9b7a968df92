"""Check the planner's predictions against a measured `stellwerk bench` run.

For every concurrency step of the measured run, the profile predicts (`capacity.predict`) output
tokens/s, TTFT p50 and TPOT p50; throughput is converted to the measured run's length mix with the
profile's work model. Error = (predicted - measured) / measured, in percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.planner.capacity import predict
from benchmarks.planner.profiles import PerformanceProfile

__all__ = ["compare", "validation_markdown"]

_METRICS = (("output_tokens_per_s", "output tokens/s"), ("requests_per_s", "requests/s"),
            ("ttft_p50_ms", "TTFT p50 (ms)"), ("tpot_p50_ms", "TPOT p50 (ms)"))


def compare(profile: PerformanceProfile, measured: dict[str, Any],
            concurrencies: Sequence[float] | None = None) -> dict[str, Any]:
    """Predicted vs measured per concurrency step (only `concurrencies`, if given), and the mean
    absolute error per metric."""
    rows: list[dict[str, Any]] = []
    for step in measured["steps"]:
        s = step["summary"]
        if step["mode"] != "concurrency" or not s["completed"]:
            continue
        if concurrencies is not None and float(step["value"]) not in {float(c) for c in concurrencies}:
            continue
        p = predict(profile, float(step["value"]))
        out_tokens = float(s["mean_output_tokens"])
        in_tokens = float(s["mean_input_tokens"] or profile.workload.input_tokens)
        w = profile.workload
        work_per_s = p.output_tokens_per_s / w.output_tokens * profile.work_per_request(w.input_tokens,
                                                                                         w.output_tokens)
        rps = work_per_s / profile.work_per_request(in_tokens, out_tokens)
        predicted = {"output_tokens_per_s": rps * out_tokens, "requests_per_s": rps,
                     "ttft_p50_ms": p.ttft_p50_ms, "tpot_p50_ms": p.tpot_p50_ms}
        actual = {"output_tokens_per_s": s["output_throughput"], "requests_per_s": s["request_throughput"],
                  "ttft_p50_ms": s["ttft_ms"]["p50"], "tpot_p50_ms": s["tpot_ms"]["p50"]}
        rows.append({"concurrency": float(step["value"]), "extrapolated": p.extrapolated,
                     "predicted": predicted, "measured": actual,
                     "error_pct": {k: _error(predicted[k], actual[k]) for k in predicted}})
    mean_abs = {k: _mean_abs([r["error_pct"][k] for r in rows]) for k, _ in _METRICS}
    return {"profile": profile.label, "rows": rows, "mean_abs_error_pct": mean_abs}


def _error(predicted: float, actual: float | None) -> float | None:
    if actual is None or actual == 0:
        return None
    return 100 * (predicted - actual) / actual


def _mean_abs(values: list[float | None]) -> float | None:
    known = [abs(v) for v in values if v is not None]
    return sum(known) / len(known) if known else None


def validation_markdown(result: dict[str, Any], measured_source: str) -> str:
    lines = [f"# Planner validation: {result['profile']}", "", f"Measured run: {measured_source}", "",
             "| concurrency | metric | predicted | measured | error |", "|---|---|---|---|---|"]
    for r in result["rows"]:
        for key, name in _METRICS:
            err = r["error_pct"][key]
            lines.append(f"| {r['concurrency']:g}{' (extrapolated)' if r['extrapolated'] else ''} | {name} | "
                         f"{r['predicted'][key]:.3g} | {_num(r['measured'][key])} | "
                         f"{'—' if err is None else format(err, '+.1f') + ' %'} |")
    mean_abs = result["mean_abs_error_pct"]
    lines += ["", "Mean absolute error: " + ", ".join(f"{name} {_pct(mean_abs[k])}" for k, name in _METRICS)]
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"
