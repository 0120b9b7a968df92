"""The routing configuration file: strict validation with located errors, and hot reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.hot_reload import ConfigHolder
from router.routing.config import (
    DEFAULT_ROUTING_CONFIG_PATH,
    RoutingConfig,
    RoutingConfigError,
    load_routing_config,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    return path


def test_an_unknown_field_is_named_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "objectives:\n  fast:\n    type: cheapest\n    qualty_floor: 0.3\n"
                           "default_objective: fast\n")
    with pytest.raises(RoutingConfigError) as err:
        load_routing_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: 1 error(s) in the routing configuration")
    assert "line 4: objectives.fast.qualty_floor: Extra inputs are not permitted" in message


def test_out_of_range_values_and_unknown_objective_types_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "objectives:\n  a: {type: cheapest, quality_floor: 1.5}\n  b: {type: fastest}\n"
                           "default_objective: a\n")
    with pytest.raises(RoutingConfigError) as err:
        load_routing_config(path)
    assert "objectives.a.quality_floor: Input should be less than or equal to 1" in str(err.value)
    assert "objectives.b" in str(err.value) and "fastest" in str(err.value)


def test_ttft_priors_per_model_take_two_or_three_non_negative_numbers(tmp_path: Path) -> None:
    head = "objectives:\n  a: {type: cheapest}\ndefault_objective: a\nlatency:\n  per_model:\n"
    good = load_routing_config(write(tmp_path, head + "    a: [0.4, 0.2]\n    b: [0.4, 0.2, 0.001]\n"))
    assert good.latency.per_model == {"a": (0.4, 0.2), "b": (0.4, 0.2, 0.001)}
    for bad in ("[0.4, 0.2, -0.001]", "[0, 0.2]", "[0.4]"):
        with pytest.raises(RoutingConfigError, match=r"latency\.per_model\.m"):
            load_routing_config(write(tmp_path, head + f"    m: {bad}\n"))


def test_not_yaml_and_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RoutingConfigError, match="not valid YAML"):
        load_routing_config(write(tmp_path, "objectives: [unclosed"))
    with pytest.raises(RoutingConfigError, match="must be a mapping"):
        load_routing_config(write(tmp_path, "- just a list"))
    with pytest.raises(RoutingConfigError, match="cannot read"):
        load_routing_config(tmp_path / "missing.yaml")


def test_the_holder_swaps_valid_versions_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    original = DEFAULT_ROUTING_CONFIG_PATH.read_text()
    path = write(tmp_path, original)
    holder = ConfigHolder(path, load_routing_config)
    seen: list[RoutingConfig] = []
    holder.on_change(seen.append)
    assert not holder.check()  # unchanged file: nothing to do

    path.write_text(original.replace("max_attempts: 3", "max_attempts: 5"))
    assert holder.check()
    assert (holder.version, holder.current.fallback.max_attempts, len(seen)) == (2, 5, 1)

    path.write_text(original.replace("max_attempts: 3", "max_attempts: 50"))
    assert not holder.check()
    assert holder.current.fallback.max_attempts == 5
    assert holder.error is not None and "fallback.max_attempts" in holder.error

    path.unlink()  # a deleted file is an error too; routing goes on with what it has
    assert not holder.check()
    assert holder.error is not None and "cannot read" in holder.error
    path.write_text(original)
    assert holder.check() and holder.error is None and holder.version == 3


def test_a_router_does_not_start_with_an_invalid_configuration(tmp_path: Path) -> None:
    with pytest.raises(RoutingConfigError):
        ConfigHolder(write(tmp_path, "default_objective: x\nobjectives: {}\n"), load_routing_config)
