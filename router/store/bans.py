"""Bans: providers or models that no request may reach, switched on and off at run time.

A ban is a row keyed by (kind, target). Banning twice keeps the first ban (reason, actor, time); lifting
deletes the row. Each effective change is audited and bumps the state version in the same transaction;
no-ops change nothing, so pollers do not reload for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from router.store.audit import append_audit
from router.store.backend import Cursor, Row
from router.store.clock import from_us, now, to_us
from router.store.database import Database
from router.store.state import bump_state

__all__ = ["Ban", "BanKind", "BanStore"]

BanKind = Literal["provider", "model"]
BAN_KINDS: tuple[str, ...] = get_args(BanKind)
_COLUMNS = "kind, target, reason, actor, created_at_us"


@dataclass(frozen=True)
class Ban:
    """An active ban on one provider or one model."""

    kind: BanKind
    target: str
    reason: str
    actor: str
    created_at: datetime


def _check(kind: str, target: str) -> None:
    if kind not in BAN_KINDS:
        raise ValueError(f"unknown ban kind {kind!r}; known: {', '.join(BAN_KINDS)}")
    if not target:
        raise ValueError("a ban needs a target")


def _ban(row: Row) -> Ban:
    kind, target, reason, actor, created = row
    return Ban(kind, target, reason, actor, from_us(created))


def _get(cur: Cursor, kind: str, target: str) -> Ban | None:
    rows = cur.fetchall(f"SELECT {_COLUMNS} FROM bans WHERE kind = ? AND target = ?", (kind, target))
    return _ban(rows[0]) if rows else None


class BanStore:
    """Adds, lifts and lists bans."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def ban(self, kind: BanKind, target: str, *, reason: str, actor: str) -> Ban:
        """Ban a provider or model; if it is already banned, the existing ban is returned unchanged."""
        _check(kind, target)
        with self._db.write() as cur:
            existing = _get(cur, kind, target)
            if existing is not None:
                return existing
            ban = Ban(kind, target, reason, actor, now())
            cur.execute(f"INSERT INTO bans ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                        (kind, target, reason, actor, to_us(ban.created_at)))
            append_audit(cur, actor, "ban.add", {"kind": kind, "target": target, "reason": reason})
            bump_state(cur)
        return ban

    def lift(self, kind: BanKind, target: str, *, actor: str) -> bool:
        """Lift a ban; False if there was none."""
        _check(kind, target)
        with self._db.write() as cur:
            if cur.execute("DELETE FROM bans WHERE kind = ? AND target = ?", (kind, target)) == 0:
                return False
            append_audit(cur, actor, "ban.lift", {"kind": kind, "target": target})
            bump_state(cur)
        return True

    def active(self) -> list[Ban]:
        """Every active ban, oldest first."""
        with self._db.read() as cur:
            rows = cur.fetchall(f"SELECT {_COLUMNS} FROM bans ORDER BY created_at_us, kind, target")
        return [_ban(r) for r in rows]
