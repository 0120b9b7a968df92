"""GPU telemetry through NVML (`pynvml`, from the `nvidia-ml-py` package).

On a machine without an NVIDIA driver `nvmlInit` fails: the reader then reports "no GPU" once, in
the log, and every later reading is an empty list; nothing else in Stellwerk needs a GPU to run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = ["GpuReading", "NvmlReader"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuReading:
    index: int
    name: str
    utilization_pct: float
    memory_used_bytes: int
    memory_total_bytes: int
    power_watts: float | None
    temperature_c: float | None


class NvmlReader:
    """Reads every GPU's utilization, memory, power and temperature. `nvml` is the pynvml module
    (injected so tests can pass a fake with the same functions)."""

    def __init__(self, nvml: ModuleType | Any | None = None) -> None:
        if nvml is None:
            import pynvml

            nvml = pynvml
        self._nvml: Any = nvml
        self._ok = self._init()

    @property
    def available(self) -> bool:
        return self._ok

    def count(self) -> int:
        return int(self._nvml.nvmlDeviceGetCount()) if self._ok else 0

    def read(self) -> list[GpuReading]:
        """Every GPU that answers; one that fails (e.g. fell off the bus) is logged and skipped."""
        if not self._ok:
            return []
        readings = []
        try:
            count = self.count()
        except self._nvml.NVMLError as exc:
            logger.warning("NVML could not count the GPUs: %s", exc)
            return []
        for index in range(count):
            try:
                readings.append(self._read_one(index))
            except self._nvml.NVMLError as exc:
                logger.warning("NVML could not read GPU %d: %s", index, exc)
        return readings

    def close(self) -> None:
        if self._ok:
            self._nvml.nvmlShutdown()
            self._ok = False

    def _init(self) -> bool:
        try:
            self._nvml.nvmlInit()
        except self._nvml.NVMLError as exc:
            logger.info("no GPU: NVML is not available on this machine (%s)", exc)
            return False
        return True

    def _read_one(self, index: int) -> GpuReading:
        nvml = self._nvml
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        util = nvml.nvmlDeviceGetUtilizationRates(handle)
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        name = nvml.nvmlDeviceGetName(handle)
        return GpuReading(
            index=index,
            name=name.decode() if isinstance(name, bytes) else str(name),
            utilization_pct=float(util.gpu),
            memory_used_bytes=int(memory.used),
            memory_total_bytes=int(memory.total),
            power_watts=self._optional(lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0),
            temperature_c=self._optional(
                lambda: float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))),
        )

    def _optional(self, read: Any) -> float | None:
        """Some GPUs (and MIG slices) do not report power or temperature."""
        try:
            return float(read())
        except self._nvml.NVMLError:
            return None


def main(argv: list[str] | None = None) -> int:
    """`python -m cluster.gpu [--samples N] [--interval S]`: print NVML readings as JSON lines."""
    import argparse
    import dataclasses
    import json
    import time

    parser = argparse.ArgumentParser(description="Print NVML GPU readings as JSON lines.")
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    reader = NvmlReader()
    try:
        for i in range(args.samples):
            if i:
                time.sleep(args.interval)
            print(json.dumps({"sample": i, "gpus": [dataclasses.asdict(r) for r in reader.read()]}))
    finally:
        reader.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
