"""Read the hash-locked requirement files under requirements/ and fingerprint what they were made from.

A lock's header carries `# input-sha256: <digest>` of its inputs (pyproject.toml's dependency tables, the
installer pins, the CPU exclusions). `python -m release.lockfile input-hash` prints the current digest;
bootstrap.sh and the tests compare it with the header to tell a lock that is older than pyproject.toml.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["FLAVOURS", "LOCK_DIR", "LockedPackage", "input_hash", "lock_paths", "read_lock", "recorded_hash"]

LOCK_DIR: Final = Path("requirements")
FLAVOURS: Final = ("cpu", "gpu")
# Files besides pyproject.toml whose content decides what a lock holds.
INPUT_FILES: Final = ("installer.in", "cpu-excludes.txt")
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")
_RECORDED = re.compile(r"^# input-sha256: ([0-9a-f]{64})$", re.MULTILINE)


@dataclass(frozen=True)
class LockedPackage:
    """One pinned requirement of a lock file: normalised name, exact version, allowed sha256 digests."""

    name: str
    version: str
    hashes: tuple[str, ...]


def normalise(name: str) -> str:
    """PEP 503 name normalisation (`PyYAML` and `pyyaml`, `ml_dtypes` and `ml-dtypes` are one project)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def input_hash(root: Path) -> str:
    """Digest of everything a lock is made from; any change to the dependency declarations changes it."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    spec = {key: project.get(key) for key in ("requires-python", "dependencies", "optional-dependencies")}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
    for name in INPUT_FILES:
        digest.update((root / LOCK_DIR / name).read_bytes())
    return digest.hexdigest()


def lock_paths(root: Path) -> list[Path]:
    """Every lock the project keeps: per flavour the shipped set and the development environment."""
    return [root / LOCK_DIR / f"{flavour}{suffix}.lock" for flavour in FLAVOURS for suffix in ("", "-dev")]


def recorded_hash(text: str) -> str | None:
    """The input digest written into a lock's header, or None for a file without one."""
    match = _RECORDED.search(text)
    return match.group(1) if match else None


def read_lock(text: str) -> list[LockedPackage]:
    """The pinned packages of a `uv pip compile --generate-hashes` file, in file order."""
    packages: list[LockedPackage] = []
    # A requirement and its `--hash` options form one logical line joined by trailing backslashes.
    for line in text.replace("\\\n", " ").splitlines():
        match = _REQUIREMENT.match(line)
        if match:
            name, version = match.groups()
            packages.append(LockedPackage(normalise(name), version, tuple(_HASH.findall(line))))
    return packages


def main(argv: list[str]) -> int:
    if argv == ["input-hash"]:
        print(input_hash(Path.cwd()))
        return 0
    print("usage: python -m release.lockfile input-hash", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
