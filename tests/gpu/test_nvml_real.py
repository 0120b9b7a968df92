"""NVML on a real GPU. Skipped where there is none (CI); run on a GPU machine with `pytest tests/gpu`."""

from __future__ import annotations

import pytest

from cluster.gpu import NvmlReader

reader = NvmlReader()
pytestmark = pytest.mark.skipif(not reader.available, reason="no NVIDIA GPU / NVML on this machine")


def test_every_gpu_reports_sane_readings() -> None:
    readings = reader.read()
    assert len(readings) == reader.count() >= 1
    for gpu in readings:
        assert gpu.name
        assert 0 <= gpu.utilization_pct <= 100
        assert 0 < gpu.memory_used_bytes <= gpu.memory_total_bytes
        assert gpu.power_watts is None or gpu.power_watts > 0
        assert gpu.temperature_c is None or 0 < gpu.temperature_c < 120
