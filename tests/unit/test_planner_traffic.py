"""Traffic profiles: the shipped example validates; wrong shares, categories and hours are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.cost.yaml_file import DataFileError
from benchmarks.planner.traffic import load_traffic

EXAMPLE = Path(__file__).resolve().parents[2] / "benchmarks" / "planner" / "examples" / "traffic.yaml"


def test_example_loads() -> None:
    t = load_traffic(EXAMPLE)
    assert t.peak_rps == 12 and t.mean_input_tokens == pytest.approx(0.7 * 400 + 0.3 * 2000)
    assert t.requests_per_day == pytest.approx(sum(t.hourly_requests_per_s) * 3600)
    assert t.scaled(2).peak_rps == 24


@pytest.mark.parametrize(("old", "new", "message"), [
    ("share: 0.7", "share: 0.6", "lengths: shares must sum to 1"),
    ("chit_chat: 0.15", "smalltalk: 0.15", "unknown categories"),
    ("[0.5, 0.3,", "[0.3,", "hourly_requests_per_s"),
])
def test_bad_profiles_are_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = tmp_path / "t.yaml"
    text = EXAMPLE.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    with pytest.raises(DataFileError, match=message):
        load_traffic(path)
