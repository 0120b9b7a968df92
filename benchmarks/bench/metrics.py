"""Per-request and per-step metrics, following vLLM's `benchmark_serving` definitions.

Per request (successful ones):
- **TTFT**: send → first chunk carrying generated text.
- **ITL** (inter-token latency): each gap between consecutive chunks with text; all gaps of all requests
  are pooled before taking percentiles (a chunk with several tokens counts as one gap, as in vLLM).
- **TPOT** (time per output token): (E2E - TTFT) / (output tokens - 1), for requests with more than one
  output token (0 otherwise). Output tokens are the server's `usage.completion_tokens`, else the number of
  chunks with text.
- **E2E latency**: send → end of the stream.

Per step: `duration_s` runs from the step's start to the end of its last request; requests/s and output
tokens/s count successful requests over that duration; error rate = failed / sent, by status; goodput =
requests meeting every given SLO (TTFT, TPOT, E2E; a failed request meets none) per second, and as a share
of all requests sent. Percentiles interpolate linearly between order statistics (numpy's default).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.bench.client import RequestRecord

__all__ = ["SLO", "Distribution", "StepSummary", "distribution", "meets_slo", "percentile",
           "sending_rate", "summarize_step", "tpot_s"]

PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class SLO:
    """Service-level objectives in milliseconds (None: not part of the objective)."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None

    @property
    def empty(self) -> bool:
        return self.ttft_ms is None and self.tpot_ms is None and self.e2e_ms is None


@dataclass(frozen=True)
class Distribution:
    """Mean and percentiles of one metric, in milliseconds (NaN when there are no values)."""

    count: int
    mean: float
    p50: float
    p90: float
    p99: float


@dataclass(frozen=True)
class StepSummary:
    """Everything one load step measured (latencies in ms, rates per second)."""

    requests: int
    completed: int
    failed: int
    error_rate: float
    errors_by_status: dict[str, int]
    duration_s: float
    request_throughput: float
    output_throughput: float
    mean_input_tokens: float
    mean_output_tokens: float
    ttft_ms: Distribution
    itl_ms: Distribution
    tpot_ms: Distribution
    e2e_ms: Distribution
    good_requests: int
    goodput: float  # requests meeting every SLO per second
    good_share: float  # ... as a share of all requests sent
    max_send_lag_ms: float  # rate steps: the latest a request left after its planned time (load generator)
    send_rate: float  # requests sent per second, first send to last (shows what load was really offered)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation like numpy.percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def distribution(values_s: Sequence[float]) -> Distribution:
    """Mean and percentiles of values given in seconds, reported in milliseconds."""
    ms = [1000 * v for v in values_s]
    mean = sum(ms) / len(ms) if ms else math.nan
    p50, p90, p99 = (percentile(ms, q) for q in PERCENTILES)
    return Distribution(len(ms), mean, p50, p90, p99)


def tpot_s(record: RequestRecord) -> float:
    """Time per output token after the first (0 for answers of one token)."""
    if record.ttft_s is None or record.e2e_s is None or record.output_tokens <= 1:
        return 0.0
    return (record.e2e_s - record.ttft_s) / (record.output_tokens - 1)


def meets_slo(record: RequestRecord, slo: SLO) -> bool:
    """Whether a request succeeded and met every objective set in `slo`."""
    if not record.ok or record.ttft_s is None or record.e2e_s is None:
        return False
    checks = ((slo.ttft_ms, record.ttft_s), (slo.tpot_ms, tpot_s(record)), (slo.e2e_ms, record.e2e_s))
    return all(limit is None or 1000 * value <= limit for limit, value in checks)


def summarize_step(records: Sequence[RequestRecord], slo: SLO) -> StepSummary:
    """The step's metrics from its raw request records."""
    ok = [r for r in records if r.ok]
    ends = [r.start_s + r.e2e_s for r in records if r.e2e_s is not None]
    duration = max(ends, default=0.0)
    per_s = (lambda n: n / duration) if duration > 0 else (lambda n: 0.0)
    good = sum(meets_slo(r, slo) for r in records)
    prompt_tokens = [r.prompt_tokens for r in ok if r.prompt_tokens is not None]
    lags = [r.start_s - r.scheduled_s for r in records if r.scheduled_s is not None]
    return StepSummary(
        requests=len(records), completed=len(ok), failed=len(records) - len(ok),
        error_rate=(len(records) - len(ok)) / len(records) if records else 0.0,
        errors_by_status=dict(sorted(Counter(r.status for r in records if not r.ok).items())),
        duration_s=duration, request_throughput=per_s(len(ok)),
        output_throughput=per_s(sum(r.output_tokens for r in ok)),
        mean_input_tokens=sum(prompt_tokens) / len(prompt_tokens) if prompt_tokens else math.nan,
        mean_output_tokens=sum(r.output_tokens for r in ok) / len(ok) if ok else math.nan,
        ttft_ms=distribution([r.ttft_s for r in ok if r.ttft_s is not None]),
        itl_ms=distribution([b - a for r in ok for a, b in itertools.pairwise(r.token_times_s)]),
        tpot_ms=distribution([tpot_s(r) for r in ok if r.output_tokens > 1]),
        e2e_ms=distribution([r.e2e_s for r in ok if r.e2e_s is not None]),
        good_requests=good, goodput=per_s(good), good_share=good / len(records) if records else 0.0,
        max_send_lag_ms=1000 * max(lags) if lags else math.nan,
        send_rate=sending_rate([r.start_s for r in records]),
    )


def sending_rate(starts: Sequence[float]) -> float:
    """(n - 1) / (last send - first send): the rate at which requests actually left (NaN below 2)."""
    span = max(starts, default=0.0) - min(starts, default=0.0)
    return (len(starts) - 1) / span if len(starts) > 1 and span > 0 else math.nan
