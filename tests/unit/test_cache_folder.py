"""models.cache_folder: a cached folder is built once, atomically, and older keys are removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from models.cache_folder import MARKER_NAME, build_once, cache_key, is_complete


def _fill(calls: list[Path]) -> Any:
    def fill(work: Path) -> dict[str, Any]:
        calls.append(work)
        (work / "data.txt").write_text("built")
        return {"what": "test"}
    return fill


def test_a_folder_is_built_once_with_its_marker(tmp_path: Path) -> None:
    target, calls = tmp_path / "thing-1-key", []
    marker = build_once(target, _fill(calls), stale="thing-*")
    assert marker is not None and marker["what"] == "test" and "seconds" in marker
    assert is_complete(target) and (target / "data.txt").read_text() == "built"
    assert build_once(target, _fill(calls), stale="thing-*") is None
    assert len(calls) == 1 and not calls[0].exists()  # built in a work folder, renamed into place


def test_a_killed_build_is_rebuilt_and_older_keys_go(tmp_path: Path) -> None:
    old = tmp_path / "thing-0-old"
    old.mkdir()
    (old / MARKER_NAME).write_text("{}")
    target = tmp_path / "thing-1-new"
    target.mkdir()  # a folder without its marker: a build killed half-way
    (target / "partial").write_text("x")
    build_once(target, _fill([]), stale="thing-*")
    assert is_complete(target) and not (target / "partial").exists()
    assert not old.exists()


def test_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    def fail(work: Path) -> dict[str, Any]:
        (work / "half").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        build_once(tmp_path / "thing-1-key", fail, stale="thing-*")
    assert list(tmp_path.iterdir()) == [tmp_path / ".thing-1-key.lock"]


def test_cache_keys_differ_by_part_boundaries() -> None:
    assert cache_key(["ab", "c"]) != cache_key(["a", "bc"])
    assert len(cache_key(["x"])) == 16
