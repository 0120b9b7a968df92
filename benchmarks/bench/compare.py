"""Side-by-side numbers of `stellwerk bench` and a peer tool for the same steps, with relative differences.

The relative difference is (peer - ours) / ours: +5 % means the peer measured 5 % more than we did.
"""

from __future__ import annotations

from typing import Any

__all__ = ["COMPARED", "compare_step", "relative_difference"]

# (label, path in our step summary, path in the peer summary); TPOT is compared with guidellm's ITL,
# which has TPOT's definition (see benchmarks.bench.guidellm).
COMPARED: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("requests completed", ("completed",), ("completed",)),
    ("sent requests/s (offered load)", ("send_rate",), ("send_rate",)),
    ("requests/s", ("request_throughput",), ("request_throughput",)),
    ("output tokens/s", ("output_throughput",), ("output_throughput",)),
    ("mean output tokens", ("mean_output_tokens",), ("mean_output_tokens",)),
    *((f"TTFT {s} (ms)", ("ttft_ms", s), ("ttft_ms", s)) for s in ("mean", "p50", "p90", "p99")),
    *((f"TPOT {s} (ms)", ("tpot_ms", s), ("tpot_ms", s)) for s in ("mean", "p50", "p90", "p99")),
    *((f"E2E {s} (ms)", ("e2e_ms", s), ("e2e_ms", s)) for s in ("mean", "p50", "p90", "p99")),
)


def _get(data: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def relative_difference(ours: float | None, peer: float | None) -> float | None:
    """(peer - ours) / ours, or None when either is missing or ours is 0."""
    if ours is None or peer is None or ours == 0:
        return None
    return (peer - ours) / ours


def compare_step(ours: dict[str, Any], peer: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per compared metric: label, ours, peer, relative difference."""
    rows = []
    for label, our_path, peer_path in COMPARED:
        a, b = _get(ours, our_path), _get(peer, peer_path)
        rows.append({"metric": label, "ours": a, "peer": b, "relative_difference": relative_difference(a, b)})
    return rows
