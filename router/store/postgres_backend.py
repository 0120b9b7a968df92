"""PostgreSQL (psycopg 3, sync API): one autocommit connection per thread, explicit transactions.

The stores' SQL uses `?`; psycopg wants `%s` and reads a bare `%` as a placeholder, so `to_pyformat`
escapes `%` first. Migrations take a transaction-scoped advisory lock so that two routers starting at
once apply them one after the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import psycopg

from router.store.backend import Dialect, Params, Row, StoreError

__all__ = ["POSTGRES_DIALECT", "PostgresBackend", "redact_url", "to_pyformat"]

# Any constant works; it only has to be the same in every Stellwerk process.
MIGRATION_LOCK_KEY = 0x5374_656C_6C77  # "Stellw"
POSTGRES_DIALECT = Dialect(autoid="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                           migration_lock=f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
CONNECT_TIMEOUT_S = 10


def to_pyformat(sql: str) -> str:
    """`?` placeholders → psycopg's `%s` (the stores never put `?` or `%` inside string literals)."""
    return sql.replace("%", "%%").replace("?", "%s")


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class _PostgresCursor:
    """`Cursor` over a psycopg connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        with self._conn.cursor() as cur:
            if params:
                cur.execute(to_pyformat(sql), tuple(params))
            else:  # no placeholders: run as written (a `%` in a PL/pgSQL body stays a `%`)
                cur.execute(sql.encode())
            return int(cur.rowcount)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(to_pyformat(sql), [tuple(r) for r in rows])

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        with self._conn.cursor() as cur:
            cur.execute(to_pyformat(sql), tuple(params)) if params else cur.execute(sql.encode())
            return [tuple(r) for r in cur.fetchall()]


class _PostgresSession:
    """One psycopg connection in autocommit mode; `write` wraps a real transaction."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    @contextmanager
    def write(self) -> Iterator[_PostgresCursor]:
        with self._conn.transaction():
            yield _PostgresCursor(self._conn)

    @contextmanager
    def read(self) -> Iterator[_PostgresCursor]:
        yield _PostgresCursor(self._conn)

    def usable(self) -> bool:
        return not (self._conn.closed or self._conn.broken)

    def close(self) -> None:
        self._conn.close()


class PostgresBackend:
    """Connects to one PostgreSQL database given by a `postgresql://` URL."""

    kind: Final = "postgresql"
    dialect = POSTGRES_DIALECT

    def __init__(self, url: str) -> None:
        self._url = url

    def describe(self) -> str:
        return redact_url(self._url)

    def prepare(self) -> None:
        """Nothing to create up front: the server owns the storage."""

    def connect(self) -> _PostgresSession:
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            # NOTE: libpq's messages name host and port, never the password; the URL is redacted.
            raise StoreError(f"cannot connect to {self.describe()}: {exc}") from exc
        return _PostgresSession(conn)
