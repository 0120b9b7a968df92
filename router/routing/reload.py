"""Hot reload of the routing configuration: poll the file, validate, swap, never drop a request.

`ConfigHolder.current` is an immutable `RoutingConfig`; a request reads it once and keeps that version,
so swapping it mid-request changes nothing for requests already routed. The watcher compares the file's
modification time and size every `interval_s`; a changed file is parsed and validated, and only a valid
one replaces the current version (listeners are told, e.g. to re-tune hysteresis). An invalid one is
refused: its errors are logged once and kept in `error` (shown by /status) until the file is fixed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from router.routing.config import RoutingConfig, RoutingConfigError, load_routing_config

__all__ = ["ConfigHolder"]

logger = logging.getLogger(__name__)

_Signature = tuple[int, int] | None


class ConfigHolder:
    def __init__(self, path: Path, *, interval_s: float = 1.0) -> None:
        """Load `path` now (raises `RoutingConfigError` if it is invalid: the router must not start)."""
        self.path = path
        self._interval = interval_s
        self._signature = self._stat()
        self._current = load_routing_config(path)
        self._error: str | None = None
        self._version = 1
        self._listeners: list[Callable[[RoutingConfig], object]] = []
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def fixed(cls, config: RoutingConfig, path: Path) -> ConfigHolder:
        """A holder of `config` that treats `path` as its file (tests, or configuration from code)."""
        holder = cls.__new__(cls)
        holder.path, holder._interval, holder._signature = path, 1.0, None
        holder._current, holder._error, holder._version = config, None, 1
        holder._listeners, holder._task = [], None
        return holder

    @property
    def current(self) -> RoutingConfig:
        return self._current

    @property
    def error(self) -> str | None:
        """Why the file on disk is not in use (it failed validation), or None."""
        return self._error

    @property
    def version(self) -> int:
        return self._version

    def on_change(self, listener: Callable[[RoutingConfig], object]) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name="routing-config-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def check(self) -> bool:
        """Reload if the file changed; True when a new version was taken."""
        signature = self._stat()
        if signature == self._signature:
            return False
        self._signature = signature
        try:
            config = load_routing_config(self.path)
        except RoutingConfigError as exc:
            self._error = str(exc)
            logger.error("routing configuration not reloaded; keeping version %d:\n%s", self._version, exc)
            return False
        self._current, self._error = config, None
        self._version += 1
        logger.info("routing configuration reloaded from %s (version %d)", self.path, self._version)
        for listener in self._listeners:
            listener(config)
        return True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                self.check()
            except Exception:  # NOTE: a listener's bug must not end the watching
                logger.exception("routing configuration watcher failed")

    def _stat(self) -> _Signature:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)
