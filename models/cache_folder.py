"""Folders in the prepared-models cache that are built once: under a file lock, atomically, marked.

A folder is complete when its marker file exists; the marker is written into a private work folder
before one atomic rename, so a reader never sees half a build, and a build killed half-way leaves only
a work folder that the next build removes. Used by the ONNX encoder export and the static table
distillation (`models.encoder_export`, `models.static_distill`); the GGUF preparation
(`models.prepare`) shares the lock and the marker and adds its own progress steps.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final

__all__ = ["MARKER_NAME", "build_once", "cache_key", "is_complete", "locked", "package_version"]

logger = logging.getLogger(__name__)

MARKER_NAME: Final = ".stellwerk-prepared.json"

# Writes a build's files into the work folder it is given; returns what the marker records.
Fill = Callable[[Path], dict[str, Any]]


def is_complete(folder: Path) -> bool:
    return (folder / MARKER_NAME).is_file()


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive fcntl lock on `lock_file`; the kernel drops it if the process dies."""
    with lock_file.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("waiting for another process that is preparing %s", lock_file.parent)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_once(target: Path, fill: Fill, *, stale: str) -> dict[str, Any] | None:
    """Build `target` with `fill` unless it is complete; safe from several processes at once (the
    first builds under a file lock, the others wait and reuse it). Complete sibling folders matching
    the glob `stale` (older keys of the same artefact) are removed after a build. Returns the new
    marker, or None when the folder was already there."""
    if is_complete(target):
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    with locked(target.with_name(f".{target.name}.lock")):
        if is_complete(target):
            return None
        marker = _build(target, fill)
    for old in target.parent.glob(stale):
        if old != target and is_complete(old):
            shutil.rmtree(old, ignore_errors=True)
    return marker


def _build(target: Path, fill: Fill) -> dict[str, Any]:
    started = time.monotonic()
    work = target.with_name(f".{target.name}.build-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)  # a folder without its marker is a killed build
    work.mkdir(parents=True)
    try:
        marker = fill(work)
        marker.update(prepared_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                      seconds=round(time.monotonic() - started, 1))
        (work / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n")
        # NOTE: the marker is written before the atomic rename, so a folder at `target` is complete.
        os.rename(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return marker


def cache_key(parts: Iterable[str | bytes]) -> str:
    """16 hex digits over `parts` (each hashed on its own, so no two lists of parts collide)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part.encode() if isinstance(part, str) else part).digest())
    return digest.hexdigest()[:16]


def package_version(package: str, error: type[Exception]) -> str:
    """The installed version of `package`; `error` (the caller's own) when it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError as exc:
        raise error(f"package {package!r} is not installed (pip install {package})") from exc
