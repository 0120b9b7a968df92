"""The router's in-memory copy of API keys and bans, kept in step with the database.

Every `interval_s` (0.5 s) a background task reads the database's state version (one row); when it has
moved — a key was created or revoked, a ban set or lifted, by this router, another replica or the CLI —
it reloads keys and bans. So a revoke or a ban reaches every router within a second, without a restart,
and a request never waits on the database to be authenticated or filtered.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from cluster.periodic import Periodic
from models.catalogue import ModelEntry
from router.store import (
    ApiKey,
    Ban,
    BanKind,
    BanStore,
    Database,
    KeyStore,
    StoreError,
    hash_secret,
    state_version,
)

__all__ = ["BanPolicy", "Directory", "parse_ban_target"]

logger = logging.getLogger(__name__)


def parse_ban_target(text: str) -> tuple[BanKind, str]:
    """'provider:openai' → ("provider", "openai"); 'model:openai/gpt-4.1' → ("model", "openai/gpt-4.1")."""
    kind, sep, target = text.partition(":")
    if not sep or not target or kind not in ("provider", "model"):
        raise ValueError(f"a ban target is 'provider:<name>' or 'model:<id>', not {text!r}")
    return ("provider" if kind == "provider" else "model"), target


@dataclass(frozen=True)
class BanPolicy:
    """The ban list as a candidate policy: banned providers and models are never candidates."""

    bans: tuple[Ban, ...] = ()

    def reject_reason(self, entry: ModelEntry) -> str | None:
        for ban in self.bans:
            if (ban.kind, ban.target) in (("provider", entry.provider), ("model", entry.id)):
                why = f": {ban.reason}" if ban.reason else ""
                return f"{ban.kind} {ban.target!r} is banned{why}"
        return None


class Directory:
    def __init__(self, db: Database, *, interval_s: float = 0.5) -> None:
        self._db = db
        self._keys = KeyStore(db)
        self._bans = BanStore(db)
        self._version = -1
        self._by_hash: dict[str, ApiKey] = {}
        self.ban_policy = BanPolicy()
        self._loop = Periodic("key and ban sync", interval_s, self._sync)
        self._failing = False

    def refresh(self, *, force: bool = False) -> bool:
        """Reload keys and bans if the state version moved (blocking: call from a thread)."""
        version = state_version(self._db)
        if version == self._version and not force:
            return False
        by_hash = self._keys.active_by_hash()
        bans = tuple(self._bans.active())
        self._by_hash, self.ban_policy, self._version = by_hash, BanPolicy(bans), version
        logger.debug("directory: state version %d, %d active keys, %d bans", version, len(by_hash), len(bans))
        return True

    def lookup(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None. Keys are found by the SHA-256 of the secret,
        so no comparison ever runs on the secret itself."""
        return self._by_hash.get(hash_secret(secret))

    def start(self) -> None:
        """Poll the database every `interval_s` in the running event loop."""
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _sync(self) -> None:
        try:
            await asyncio.to_thread(self.refresh)
        except StoreError as exc:  # keep serving with the last keys and bans; say so once
            if not self._failing:
                logger.error("directory: cannot read keys and bans (%s); using the last ones", exc)
            self._failing = True
            return
        if self._failing:
            logger.info("directory: the database answers again")
        self._failing = False
