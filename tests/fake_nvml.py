"""A fake `pynvml` module: the few NVML functions `cluster.gpu.NvmlReader` uses, over fake devices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["GIB", "FakeDevice", "FakeNvml", "NVMLError"]

GIB = 1 << 30


class NVMLError(Exception):
    pass


@dataclass
class FakeDevice:
    name: bytes | str
    util: int
    used: int
    total: int
    power_mw: int | None  # None: the device does not report power
    temperature: int | None


@dataclass
class FakeNvml:
    """The few `pynvml` functions `NvmlReader` uses, over a list of fake devices."""

    devices: list[FakeDevice] = field(default_factory=list)
    init_fails: bool = False
    shutdowns: int = 0
    NVMLError: type[Exception] = NVMLError
    NVML_TEMPERATURE_GPU: int = 0

    def nvmlInit(self) -> None:
        if self.init_fails:
            raise NVMLError("NVML Shared Library Not Found")

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeDevice:
        return self.devices[index]

    def nvmlDeviceGetUtilizationRates(self, handle: FakeDevice) -> Any:
        return _Obj(gpu=handle.util, memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: FakeDevice) -> Any:
        return _Obj(used=handle.used, total=handle.total, free=handle.total - handle.used)

    def nvmlDeviceGetName(self, handle: FakeDevice) -> bytes | str:
        return handle.name

    def nvmlDeviceGetPowerUsage(self, handle: FakeDevice) -> int:
        if handle.power_mw is None:
            raise NVMLError("Not Supported")
        return handle.power_mw

    def nvmlDeviceGetTemperature(self, handle: FakeDevice, sensor: int) -> int:
        assert sensor == self.NVML_TEMPERATURE_GPU
        if handle.temperature is None:
            raise NVMLError("Not Supported")
        return handle.temperature


class _Obj:
    def __init__(self, **values: int) -> None:
        self.__dict__.update(values)
