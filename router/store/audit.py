"""The append-only audit log: who changed what, when.

There is no update or delete API, and the database refuses them too (triggers in both backends; in
PostgreSQL TRUNCATE as well). Key and ban changes append their entry in the same transaction as the
change itself, so the log cannot miss a change that happened.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from router.store.backend import Cursor
from router.store.clock import from_us, now, to_us
from router.store.database import Database

__all__ = ["AuditEntry", "AuditLog", "append_audit"]


@dataclass(frozen=True)
class AuditEntry:
    """One recorded action. `details` never holds secrets (callers pass ids, not keys)."""

    id: int
    ts: datetime
    actor: str
    action: str
    details: Mapping[str, Any]


def append_audit(cur: Cursor, actor: str, action: str, details: Mapping[str, Any]) -> None:
    """Append an entry inside the caller's transaction."""
    cur.execute("INSERT INTO audit_log (ts_us, actor, action, details) VALUES (?, ?, ?, ?)",
                (to_us(now()), actor, action, json.dumps(dict(details), sort_keys=True, default=str)))


class AuditLog:
    """Reads and appends audit entries."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, actor: str, action: str, details: Mapping[str, Any]) -> None:
        """Append one entry in its own transaction."""
        with self._db.write() as cur:
            append_audit(cur, actor, action, details)

    def entries(self, *, limit: int = 100, since: datetime | None = None) -> list[AuditEntry]:
        """The newest `limit` entries (at or after `since`), newest first."""
        where, params = ("WHERE ts_us >= ?", [to_us(since)]) if since is not None else ("", [])
        with self._db.read() as cur:
            rows = cur.fetchall(f"SELECT id, ts_us, actor, action, details FROM audit_log {where} "
                                "ORDER BY id DESC LIMIT ?", [*params, limit])
        return [AuditEntry(int(i), from_us(ts), actor, action, json.loads(details))
                for i, ts, actor, action, details in rows]
