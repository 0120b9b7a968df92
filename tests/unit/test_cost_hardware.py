"""Hardware prices: the shipped defaults are dated and sourced; bad files give clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.cost.hardware import load_hardware_prices
from benchmarks.cost.yaml_file import DataFileError


def test_shipped_prices_are_dated_and_sourced() -> None:
    prices = load_hardware_prices()
    assert {"h100-80gb", "cpu-node-2vcpu"} <= set(prices.hardware)
    for price in prices.hardware.values():
        assert price.source.strip() and "http" in price.source
        assert price.as_of.year >= 2025


def test_unknown_field_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("hardware:\n  gpu-x:\n    unit: gpu\n    price_per_hour: 2\n    as_of: 2026-01-01\n"
                    "    source: s\n    colour: blue\n")
    with pytest.raises(DataFileError, match=r"line 7: hardware.gpu-x.colour"):
        load_hardware_prices(path)


def test_negative_price_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("hardware:\n  g:\n    {unit: gpu, price_per_hour: -1, as_of: 2026-01-01, source: s}\n")
    with pytest.raises(DataFileError, match="price_per_hour"):
        load_hardware_prices(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="cannot read the hardware prices"):
        load_hardware_prices(tmp_path / "nope.yaml")


def test_unknown_hardware_lists_known_ones() -> None:
    with pytest.raises(DataFileError, match=r"known: .*h100-80gb"):
        load_hardware_prices().get("tpu-v9")


def test_with_price_replaces_one_unit() -> None:
    prices = load_hardware_prices()
    cheaper = prices.with_price("h100-80gb", 1.5)
    assert cheaper.get("h100-80gb").price_per_hour == 1.5
    assert prices.get("h100-80gb").price_per_hour != 1.5
    assert cheaper.get("cpu-node-2vcpu") == prices.get("cpu-node-2vcpu")
