"""Hardware prices: what one GPU-hour or one node-hour costs, with the date and source of the figure.

The shipped defaults (`hardware.yaml`) are public on-demand list prices; operators pass their own file
(owned hardware: amortised purchase + power + hosting per hour).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from benchmarks.cost.yaml_file import DataFileError, load_yaml_model

__all__ = ["DEFAULT_HARDWARE_PATH", "HardwarePrice", "HardwarePrices", "load_hardware_prices"]

DEFAULT_HARDWARE_PATH = Path(__file__).with_name("hardware.yaml")


class HardwarePrice(BaseModel):
    """The price of one rentable unit of hardware."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Literal["gpu", "node"] = Field(description="What one unit is: one GPU, or one whole machine.")
    price_per_hour: float = Field(gt=0, description="Price of one unit for one hour.")
    currency: Literal["USD", "EUR"] = "USD"
    as_of: dt.date = Field(description="When the price was read.")
    source: str = Field(min_length=1, description="Where the price comes from (URL and what it says).")


class HardwarePrices(BaseModel):
    """Hardware id -> price (the ids performance profiles name in `hardware`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hardware: dict[str, HardwarePrice] = Field(min_length=1)

    def get(self, hardware_id: str) -> HardwarePrice:
        """The price of `hardware_id`; DataFileError naming the known ids when it is unknown."""
        try:
            return self.hardware[hardware_id]
        except KeyError:
            raise DataFileError(f"no price for hardware {hardware_id!r}; known: "
                                f"{', '.join(sorted(self.hardware))} (add it to the hardware prices file)"
                                ) from None

    def with_price(self, hardware_id: str, price_per_hour: float) -> HardwarePrices:
        """A copy with one unit's price replaced (what-if runs, break-even scans)."""
        old = self.get(hardware_id)
        new = old.model_copy(update={"price_per_hour": price_per_hour})
        return HardwarePrices(hardware={**self.hardware, hardware_id: new})


def load_hardware_prices(path: Path | None = None) -> HardwarePrices:
    """Read and validate a hardware price file (default: the shipped benchmarks/cost/hardware.yaml)."""
    return load_yaml_model(path or DEFAULT_HARDWARE_PATH, HardwarePrices, "hardware prices")
