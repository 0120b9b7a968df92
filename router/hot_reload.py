"""Hot reload of a configuration file (routing, tenants): poll, validate, swap, never drop a request.

`ConfigHolder.current` is an immutable, validated configuration object; a request reads it once and keeps
that version, so swapping it mid-request changes nothing for requests already under way. The watcher
compares the file's modification time and size every `interval_s`; a changed file is parsed and
validated by the holder's `load` function, and only a valid one replaces the current version (listeners
are told, e.g. to re-tune hysteresis). An invalid one is refused: its errors are logged once and kept in
`error` (shown by /status) until the file is fixed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from cluster.periodic import Periodic

__all__ = ["ConfigHolder"]

T = TypeVar("T")

logger = logging.getLogger(__name__)

_Signature = tuple[int, int] | None


class ConfigHolder(Generic[T]):
    def __init__(self, path: Path, load: Callable[[Path], T], *, what: str = "configuration",
                 interval_s: float = 1.0) -> None:
        """Load `path` now with `load`, which raises a `ValueError` naming the problem for an invalid
        file (raised from here too: a router must not start on an invalid file)."""
        self.path = path
        self._load = load
        self._what = what
        self._signature = self._stat()
        self._current = load(path)
        self._watching = True
        self._error: str | None = None
        self._version = 1
        self._listeners: list[Callable[[T], object]] = []
        self._loop = Periodic(f"{what} watch", interval_s, self._check_async, wait_first=True)

    @classmethod
    def fixed(cls, config: T, path: Path) -> ConfigHolder[T]:
        """A holder of `config` that never reloads (`path` only names it: tests, configuration from code)."""
        holder = cls(path, lambda _: config)
        holder._watching = False
        return holder

    @property
    def current(self) -> T:
        return self._current

    @property
    def error(self) -> str | None:
        """Why the file on disk is not in use (it failed validation), or None."""
        return self._error

    @property
    def version(self) -> int:
        return self._version

    def on_change(self, listener: Callable[[T], object]) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        """Check the file every `interval_s` in the running event loop."""
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    def check(self) -> bool:
        """Reload if the file changed; True when a new version was taken."""
        signature = self._stat()
        if not self._watching or signature == self._signature:
            return False
        self._signature = signature
        try:
            config = self._load(self.path)
        except ValueError as exc:
            self._error = str(exc)
            logger.error("%s not reloaded; keeping version %d:\n%s", self._what, self._version, exc)
            return False
        self._current, self._error = config, None
        self._version += 1
        logger.info("%s reloaded from %s (version %d)", self._what, self.path, self._version)
        for listener in self._listeners:
            listener(config)
        return True

    async def _check_async(self) -> None:
        self.check()

    def _stat(self) -> _Signature:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)
