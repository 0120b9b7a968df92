"""Bans (idempotent, lift), the append-only audit log, and the state version that routers poll."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from router.store import AuditLog, BanStore, Database, state_version
from router.store.clock import now

pytest_plugins = ["tests.postgres"]

DB_ERRORS = (sqlite3.Error, psycopg.Error)


def test_ban_is_idempotent_and_keeps_the_first_ban(database: Database) -> None:
    bans = BanStore(database)
    first = bans.ban("provider", "openai", reason="regulator order 12", actor="alice")
    again = bans.ban("provider", "openai", reason="another reason", actor="bob")
    assert again == first
    assert bans.active() == [first]
    assert state_version(database) == 1
    assert [e.action for e in AuditLog(database).entries()] == ["ban.add"]


def test_lift_removes_the_ban_and_reports_whether_there_was_one(database: Database) -> None:
    bans = BanStore(database)
    model_ban = bans.ban("model", "gpt-5", reason="eval failed", actor="alice")
    bans.ban("provider", "gemini", reason="residency", actor="alice")
    assert bans.lift("provider", "gemini", actor="bob") is True
    assert bans.lift("provider", "gemini", actor="bob") is False
    assert bans.lift("model", "gemini", actor="bob") is False  # kind matters
    assert bans.active() == [model_ban]
    assert state_version(database) == 3  # two bans, one lift; the no-op lifts changed nothing
    entries = AuditLog(database).entries()
    assert [(e.actor, e.action, dict(e.details)) for e in entries] == [
        ("bob", "ban.lift", {"kind": "provider", "target": "gemini"}),
        ("alice", "ban.add", {"kind": "provider", "target": "gemini", "reason": "residency"}),
        ("alice", "ban.add", {"kind": "model", "target": "gpt-5", "reason": "eval failed"}),
    ]


def test_unknown_kinds_and_empty_targets_are_refused(database: Database) -> None:
    bans = BanStore(database)
    with pytest.raises(ValueError, match="unknown ban kind 'region'; known: provider, model"):
        bans.ban("region", "eu", reason="", actor="a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a target"):
        bans.lift("model", "", actor="a")


def test_the_audit_log_refuses_update_and_delete_in_the_database(database: Database) -> None:
    log = AuditLog(database)
    log.record("alice", "policy.reload", {"file": "tenants.yaml"})
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DB_ERRORS, match="append-only"), database.write() as cur:
            cur.execute(statement)
    if database.kind == "postgresql":
        with pytest.raises(DB_ERRORS, match="append-only"), database.write() as cur:
            cur.execute("TRUNCATE audit_log")
    assert [(e.actor, e.action) for e in log.entries()] == [("alice", "policy.reload")]
    assert not hasattr(log, "delete") and not hasattr(log, "update")


def test_entries_are_newest_first_with_limit_and_since(database: Database) -> None:
    log = AuditLog(database)
    for i in range(5):
        log.record("alice", f"action.{i}", {"i": i, "nested": {"ok": True}})
    entries = log.entries(limit=3)
    assert [e.action for e in entries] == ["action.4", "action.3", "action.2"]
    assert entries[0].details == {"i": 4, "nested": {"ok": True}}
    assert log.entries(since=now() + timedelta(seconds=5)) == []
    assert len(log.entries(since=entries[1].ts)) == 2


def test_state_version_is_seen_by_another_connection(database: Database, database_url: str,
                                                      tmp_path: Path) -> None:
    other = Database.open(database_url, default_path=tmp_path / "unused.db")
    try:
        seen = [state_version(other)]
        bans = BanStore(database)
        bans.ban("provider", "anthropic", reason="r", actor="a")
        seen.append(state_version(other))
        bans.lift("provider", "anthropic", actor="a")
        seen.append(state_version(other))
        assert seen == [0, 1, 2]
    finally:
        other.close()
