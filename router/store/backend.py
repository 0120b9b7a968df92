"""What the stores need from a database backend (SQLite or PostgreSQL): one connection per thread,
transactions, DDL words.

SQL in the stores is written once, with `?` placeholders; each backend translates it for its driver
(sqlite3 takes `?`, psycopg takes `%s`), so the paramstyle difference lives in one place per backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = ["BackendKind", "Cursor", "Dialect", "Params", "Row", "Session", "StoreError"]

BackendKind = Literal["sqlite", "postgresql"]
Params = Sequence[Any]
Row = tuple[Any, ...]


class StoreError(RuntimeError):
    """The database could not be opened, migrated or used. Messages never carry passwords."""


@dataclass(frozen=True)
class Dialect:
    """The few DDL words that differ between backends; migrations format them into their SQL."""

    autoid: str                    # an auto-incrementing 64-bit primary key column type
    migration_lock: str | None     # SQL that serialises migrations across processes, inside the tx


class Cursor(Protocol):
    """Runs statements inside one transaction (or, for reads, one connection)."""

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        ...

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement once per parameter row."""
        ...

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a query and return every row."""
        ...


class Session(Protocol):
    """One connection, used by one thread at a time."""

    def write(self) -> AbstractContextManager[Cursor]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        ...

    def read(self) -> AbstractContextManager[Cursor]:
        """A cursor for queries (no write lock taken)."""
        ...

    def usable(self) -> bool:
        """False once the connection is closed or broken (then the database reconnects)."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...
