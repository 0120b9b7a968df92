"""The state version: a counter bumped in the same transaction as every key or ban change.

Routers poll it (about every 0.5 s, one indexed single-row read) and reload keys and bans only when it
moves, so a revoke or a ban reaches every replica within a second without a message bus.
"""

from __future__ import annotations

from router.store.backend import Cursor
from router.store.database import Database

__all__ = ["bump_state", "state_version"]


def state_version(db: Database) -> int:
    """The current version; it only ever grows."""
    with db.read() as cur:
        rows = cur.fetchall("SELECT version FROM state WHERE id = 1")
    return int(rows[0][0])


def bump_state(cur: Cursor) -> None:
    """Move the version on; call inside the transaction that makes the change."""
    cur.execute("UPDATE state SET version = version + 1 WHERE id = 1")
