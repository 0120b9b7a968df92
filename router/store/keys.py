"""API keys: bearer secrets mapped to tenants, stored only as their SHA-256.

A secret is `stw-<id>-<43 chars>`: the id (10 lowercase base32 characters) makes keys easy to name in
logs and the CLI; the tail is 32 random bytes in base64url. Plain SHA-256 is enough here (no salt, no
slow hash): the secret has 256 bits of entropy, so there is nothing to brute-force, and a fast hash
lets the router check a bearer token with one dictionary lookup.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from router.store.audit import append_audit
from router.store.backend import Cursor, Row
from router.store.clock import from_us, now, to_us
from router.store.database import Database
from router.store.state import bump_state

__all__ = ["SECRET_PREFIX", "ApiKey", "KeyStore", "hash_secret"]

SECRET_PREFIX = "stw-"
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648 base32, lower case
_ID_LENGTH = 10
_COLUMNS = "id, tenant, name, created_at_us, revoked_at_us"


@dataclass(frozen=True)
class ApiKey:
    """A key's public record: everything but the secret."""

    id: str
    tenant: str
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_secret(secret: str) -> str:
    """The stored form of a secret: SHA-256, lower-case hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def _new_secret(key_id: str) -> str:
    tail = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return f"{SECRET_PREFIX}{key_id}-{tail}"


def _key(row: Row) -> ApiKey:
    key_id, tenant, name, created, revoked = row
    return ApiKey(key_id, tenant, name, from_us(created), None if revoked is None else from_us(revoked))


def _get(cur: Cursor, key_id: str) -> ApiKey | None:
    rows = cur.fetchall(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
    return _key(rows[0]) if rows else None


class KeyStore:
    """Creates, revokes and lists keys; every change is audited and bumps the state version."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, tenant: str, name: str, *, actor: str) -> tuple[ApiKey, str]:
        """A new key and its secret. The secret is returned once and never stored."""
        if not tenant or not name:
            raise ValueError("a key needs a tenant and a name")
        key = ApiKey(_new_id(), tenant, name, now(), None)
        secret = _new_secret(key.id)
        with self._db.write() as cur:
            cur.execute(f"INSERT INTO api_keys ({_COLUMNS}, secret_hash) VALUES (?, ?, ?, ?, ?, ?)",
                        (key.id, tenant, name, to_us(key.created_at), None, hash_secret(secret)))
            append_audit(cur, actor, "key.create", {"key_id": key.id, "tenant": tenant, "name": name})
            bump_state(cur)
        return key, secret

    def revoke(self, key_id: str, *, actor: str) -> ApiKey:
        """Revoke a key (KeyError if unknown). Revoking a revoked key changes nothing and returns it."""
        with self._db.write() as cur:
            key = _get(cur, key_id)
            if key is None:
                raise KeyError(key_id)
            if key.revoked_at is not None:
                return key
            revoked_at = to_us(now())
            cur.execute("UPDATE api_keys SET revoked_at_us = ? WHERE id = ?", (revoked_at, key_id))
            append_audit(cur, actor, "key.revoke", {"key_id": key_id, "tenant": key.tenant})
            bump_state(cur)
        return ApiKey(key.id, key.tenant, key.name, key.created_at, from_us(revoked_at))

    def list(self, tenant: str | None = None) -> builtins.list[ApiKey]:
        """All keys (revoked ones included), oldest first, optionally of one tenant."""
        where, params = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
        with self._db.read() as cur:
            rows = cur.fetchall(f"SELECT {_COLUMNS} FROM api_keys {where} ORDER BY created_at_us, id", params)
        return [_key(r) for r in rows]

    def active_by_hash(self) -> dict[str, ApiKey]:
        """Active keys by secret hash: the router's in-memory cache, rebuilt when the state version moves."""
        with self._db.read() as cur:
            rows = cur.fetchall(f"SELECT secret_hash, {_COLUMNS} FROM api_keys WHERE revoked_at_us IS NULL")
        return {r[0]: _key(r[1:]) for r in rows}

