"""Keep the control plane off the cores a CPU engine computes on.

vLLM's CPU engine binds its OpenMP threads to all cores but one and leaves the last one for "other
processes". With vLLM's own server that other process is a light API frontend; behind Ray Serve it is
the router, the Serve replica, the controller, raylet and GCS — and the kernel happily runs them on the
engine's cores, preempting the matrix multiplications (measured: 56 % of the bare engine's tokens/s at
16 streams on 2 cores). So, on an embedded single-machine cluster, Stellwerk pins itself (and through
inheritance every Ray process it starts) to the reserved cores and binds the engines explicitly to
the others.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CpuLayout", "pin_current_process", "plan_cpu_layout"]


@dataclass(frozen=True)
class CpuLayout:
    engine_cores: tuple[int, ...]
    control_cores: tuple[int, ...]

    def vllm_bind(self) -> str:
        """The value of VLLM_CPU_OMP_THREADS_BIND for an engine on `engine_cores`."""
        return ",".join(str(c) for c in self.engine_cores)


def plan_cpu_layout(allowed: Iterable[int], control_cores: int = 1) -> CpuLayout | None:
    """Split the allowed CPUs: the highest `control_cores` for the control plane, the rest for
    engines (the same split vLLM's automatic binding makes). None if there are too few CPUs."""
    cores = sorted(set(allowed))
    if control_cores < 1 or len(cores) <= control_cores:
        return None
    return CpuLayout(tuple(cores[:-control_cores]), tuple(cores[-control_cores:]))


def pin_current_process(cores: Iterable[int]) -> None:
    """Restrict this process, and every process it starts from now on, to `cores`."""
    os.sched_setaffinity(0, set(cores))
