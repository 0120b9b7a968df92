"""`cluster.gpu.NvmlReader` against a fake NVML module (no driver, no GPU needed)."""

from __future__ import annotations

from cluster.gpu import GpuReading, NvmlReader
from tests.fake_nvml import GIB, FakeDevice, FakeNvml


def test_without_nvml_there_is_no_gpu_and_readings_are_empty() -> None:
    nvml = FakeNvml(devices=[FakeDevice(b"H100", 1, 1, 2, 1, 1)], init_fails=True)
    reader = NvmlReader(nvml)

    assert reader.available is False
    assert reader.count() == 0
    assert reader.read() == []
    reader.close()
    assert nvml.shutdowns == 0  # never initialised, so nothing to shut down


def test_readings_per_gpu_with_decoded_names_and_watts() -> None:
    nvml = FakeNvml(devices=[
        FakeDevice(b"NVIDIA H100 80GB HBM3", util=87, used=40 * GIB, total=80 * GIB, power_mw=312_500,
                   temperature=61),
        FakeDevice("NVIDIA H200", util=0, used=0, total=141 * GIB, power_mw=75_000, temperature=30),
    ])
    reader = NvmlReader(nvml)

    assert reader.available and reader.count() == 2
    assert reader.read() == [
        GpuReading(index=0, name="NVIDIA H100 80GB HBM3", utilization_pct=87.0, memory_used_bytes=40 * GIB,
                   memory_total_bytes=80 * GIB, power_watts=312.5, temperature_c=61.0),
        GpuReading(index=1, name="NVIDIA H200", utilization_pct=0.0, memory_used_bytes=0,
                   memory_total_bytes=141 * GIB, power_watts=75.0, temperature_c=30.0),
    ]


def test_power_and_temperature_that_cannot_be_read_are_none() -> None:
    nvml = FakeNvml(devices=[FakeDevice(b"MIG 1g.10gb", util=5, used=1, total=10, power_mw=None,
                                        temperature=None)])

    [reading] = NvmlReader(nvml).read()

    assert reading.power_watts is None
    assert reading.temperature_c is None
    assert reading.utilization_pct == 5.0


def test_close_shuts_nvml_down_once_and_stops_reading() -> None:
    nvml = FakeNvml(devices=[FakeDevice(b"H100", 1, 1, 2, 1000, 40)])
    reader = NvmlReader(nvml)

    reader.close()
    reader.close()

    assert nvml.shutdowns == 1
    assert reader.available is False
    assert reader.read() == []
