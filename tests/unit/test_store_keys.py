"""API keys: secret format, only the hash stored, revoke, listing, audit entries and state version."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from router.store import AuditLog, Database, KeyStore, hash_secret, state_version

pytest_plugins = ["tests.postgres"]

SECRET = re.compile(r"stw-(?P<id>[a-z2-7]{10})-(?P<tail>[A-Za-z0-9_-]{43})")


def all_stored_text(db: Database) -> str:
    """Every row of every table, as text."""
    with db.read() as cur:
        if db.kind == "sqlite":
            tables = [t for (t,) in cur.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")]
        else:
            tables = [t for (t,) in cur.fetchall(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
        assert {"api_keys", "audit_log", "ledger"} <= set(tables)
        return "\n".join(repr(row) for t in tables for row in cur.fetchall(f"SELECT * FROM {t}"))


def test_create_returns_a_well_formed_secret_once_and_the_key(database: Database) -> None:
    keys = KeyStore(database)
    key, secret = keys.create("acme", "ci", actor="admin")
    match = SECRET.fullmatch(secret)
    assert match is not None and match["id"] == key.id
    assert (key.tenant, key.name, key.revoked_at, key.active) == ("acme", "ci", None, True)
    assert key.created_at.tzinfo is not None
    other_key, other = keys.create("acme", "ci", actor="admin")
    assert other_key.id != key.id and other != secret


def test_the_secret_is_stored_nowhere_only_its_sha256(database: Database, database_url: str) -> None:
    keys = KeyStore(database)
    key, secret = keys.create("acme", "ci", actor="admin")
    keys.revoke(keys.create("acme", "old", actor="admin")[0].id, actor="admin")
    tail = secret[-43:]  # the random part
    stored = all_stored_text(database)
    assert hash_secret(secret) in stored and key.id in stored
    assert secret not in stored and tail not in stored and tail[:20] not in stored
    if database_url.startswith("sqlite://"):  # the raw file, its WAL and shared memory too
        path = Path(database_url.removeprefix("sqlite://"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert hash_secret(secret).encode() in raw
        assert tail.encode() not in raw and tail[:20].encode() not in raw


def test_active_by_hash_finds_a_presented_secret_and_revoke_removes_it(database: Database) -> None:
    keys = KeyStore(database)
    key, secret = keys.create("acme", "ci", actor="admin")
    _, other_secret = keys.create("globex", "web", actor="admin")
    assert keys.active_by_hash()[hash_secret(secret)] == key
    revoked = keys.revoke(key.id, actor="alice")
    assert revoked.revoked_at is not None and not revoked.active
    active = keys.active_by_hash()
    assert hash_secret(secret) not in active and hash_secret(other_secret) in active


def test_revoke_is_idempotent_and_unknown_keys_raise(database: Database) -> None:
    keys = KeyStore(database)
    key, _ = keys.create("acme", "ci", actor="admin")
    first = keys.revoke(key.id, actor="alice")
    version = state_version(database)
    again = keys.revoke(key.id, actor="bob")
    assert again == first  # same revocation time: nothing changed
    assert state_version(database) == version
    with pytest.raises(KeyError):
        keys.revoke("nosuchkey0", actor="alice")


def test_list_shows_revoked_keys_and_filters_by_tenant(database: Database) -> None:
    keys = KeyStore(database)
    a1, _ = keys.create("acme", "one", actor="admin")
    b1, _ = keys.create("globex", "two", actor="admin")
    a2, _ = keys.create("acme", "three", actor="admin")
    revoked = keys.revoke(a1.id, actor="admin")
    assert keys.list("acme") == [revoked, a2]
    assert keys.list("globex") == [b1]
    assert {k.id for k in keys.list()} == {a1.id, a2.id, b1.id}
    assert keys.list("initech") == []


def test_changes_are_audited_without_the_secret_and_bump_the_state_version(database: Database) -> None:
    keys = KeyStore(database)
    assert state_version(database) == 0
    key, secret = keys.create("acme", "ci", actor="admin")
    assert state_version(database) == 1
    keys.revoke(key.id, actor="alice")
    assert state_version(database) == 2
    entries = AuditLog(database).entries()
    assert [(e.actor, e.action, dict(e.details)) for e in entries] == [
        ("alice", "key.revoke", {"key_id": key.id, "tenant": "acme"}),
        ("admin", "key.create", {"key_id": key.id, "tenant": "acme", "name": "ci"}),
    ]
    assert secret not in repr(entries)


def test_hash_secret_is_sha256_hex() -> None:
    assert hash_secret("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
