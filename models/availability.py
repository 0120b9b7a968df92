"""Decide which catalogue entries can serve on this machine, and say why not for the others.

Nothing here downloads or loads weights; it only looks: is the package installed, are the files on
disk, is there a GPU for a GPU model, is the API key variable set. Unavailable entries stay listed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from models.catalogue import (
    GgufPackageWeights,
    HubWeights,
    ModelEntry,
    PythonPackageWeights,
)
from models.secrets import resolve_api_key

__all__ = ["Availability", "check_availability"]


@dataclass(frozen=True)
class Availability:
    entry: ModelEntry
    available: bool
    reason: str | None = None
    source: Path | None = None  # where the weights are (local models), once known


def check_availability(
    entry: ModelEntry,
    *,
    gpu_count: int,
    environ: Mapping[str, str] = os.environ,
    remote_types: Collection[str] = (),
) -> Availability:
    """Whether `entry` can serve here. `remote_types` are the remote adapter types installed."""
    if not entry.is_local:
        return _remote(entry, environ, remote_types)
    if entry.accelerator == "gpu" and gpu_count == 0:
        return Availability(entry, False, "needs a GPU; none was found on this machine")
    return _local_weights(entry)


def _remote(entry: ModelEntry, environ: Mapping[str, str], remote_types: Collection[str]) -> Availability:
    assert entry.remote is not None  # guaranteed by the catalogue schema
    if resolve_api_key(entry.remote, environ) is None:
        where = entry.remote.api_key_env
        if entry.remote.api_key_file is not None:
            where += f" is not set and {entry.remote.api_key_file} holds no key"
            return Availability(entry, False, f"API key variable {where}")
        return Availability(entry, False, f"API key variable {where} is not set")
    if entry.remote.type not in remote_types:
        known = ", ".join(sorted(remote_types)) or "none"
        return Availability(entry, False,
                            f"no adapter for remote type {entry.remote.type!r} (installed: {known})")
    return Availability(entry, True)


def _local_weights(entry: ModelEntry) -> Availability:
    weights = entry.weights
    if isinstance(weights, GgufPackageWeights):
        if not _installed(weights.package):
            return Availability(entry, False, f"package {weights.package} is not installed")
        return Availability(entry, True)  # the prepared folder is made on demand
    if isinstance(weights, PythonPackageWeights):
        spec = importlib.util.find_spec(weights.module)
        if spec is None or spec.origin is None:
            return Availability(entry, False, f"package {weights.package} is not installed")
        folder = Path(spec.origin).parent / weights.subdir
        if not folder.is_dir():
            return Availability(entry, False, f"package {weights.package} has no folder {weights.subdir}")
        return Availability(entry, True, source=folder)
    if isinstance(weights, HubWeights):
        return _hub(entry, weights)
    return Availability(entry, False, "no weights configured")


def _hub(entry: ModelEntry, weights: HubWeights) -> Availability:
    if weights.local_dir is not None:
        if (weights.local_dir / "config.json").is_file():
            return Availability(entry, True, source=weights.local_dir)
        return Availability(entry, False, f"weights.local_dir {weights.local_dir} has no config.json")
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(weights.repo, "config.json", revision=weights.revision)
    if isinstance(cached, str):
        return Availability(entry, True, source=Path(cached).parent)
    return Availability(entry, False,
                        f"weights of {weights.repo} are not on this machine (Stellwerk never downloads "
                        "at run time: stage them into the Hugging Face cache or set weights.local_dir)")


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
