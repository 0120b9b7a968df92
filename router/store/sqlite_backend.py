"""SQLite (stdlib sqlite3): WAL journal, synchronous=NORMAL, write transactions with BEGIN IMMEDIATE.

WAL with synchronous=NORMAL keeps every committed transaction across a crash of the process (the WAL
is written before COMMIT returns; only an OS crash or power loss can drop the last transactions).
BEGIN IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading a read lock,
and `busy_timeout` makes the second writer wait instead of failing.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from router.store.backend import Dialect, Params, Row, StoreError

__all__ = ["SQLITE_DIALECT", "SQLiteBackend"]

SQLITE_DIALECT = Dialect(autoid="INTEGER PRIMARY KEY AUTOINCREMENT", migration_lock=None)
BUSY_TIMEOUT_MS = 30_000


class _SQLiteCursor:
    """`Cursor` over a sqlite3 connection; sqlite3 already speaks `?`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(sql, tuple(params)).rowcount

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._conn.executemany(sql, (tuple(r) for r in rows))

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return [tuple(r) for r in self._conn.execute(sql, tuple(params)).fetchall()]


class _SQLiteSession:
    """One sqlite3 connection in autocommit mode; transactions are explicit."""

    def __init__(self, path: Path) -> None:
        # check_same_thread=False only so that Database.close() may close it from another thread;
        # the Database hands each connection to exactly one thread.
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                     timeout=BUSY_TIMEOUT_MS / 1000)
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._closed = False

    @contextmanager
    def write(self) -> Iterator[_SQLiteCursor]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield _SQLiteCursor(self._conn)
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:  # the block raised, or COMMIT itself failed
                self._conn.execute("ROLLBACK")
            raise

    @contextmanager
    def read(self) -> Iterator[_SQLiteCursor]:
        yield _SQLiteCursor(self._conn)

    def usable(self) -> bool:
        return not self._closed

    def close(self) -> None:
        self._closed = True
        self._conn.close()


class SQLiteBackend:
    """Opens connections to one SQLite file, creating its folder and switching it to WAL once."""

    kind: Final = "sqlite"
    dialect = SQLITE_DIALECT

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return f"sqlite:///{self.path}" if self.path.is_absolute() else f"sqlite://{self.path}"

    def prepare(self) -> None:
        """Create the folder and put the file in WAL mode (persistent: later connections inherit it)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open {self.describe()}: {exc}") from exc
        try:
            _enable_wal(conn)
        finally:
            conn.close()

    def connect(self) -> _SQLiteSession:
        try:
            return _SQLiteSession(self.path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.describe()}: {exc}") from exc


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. NOTE: the switch needs an exclusive lock and sqlite does not always wait for it
    (a second process opening a fresh file at the same moment gets SQLITE_BUSY), so retry briefly."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise StoreError(f"cannot switch the database to WAL: {exc}") from exc
            time.sleep(0.05)
            continue
        if str(mode).lower() != "wal":
            raise StoreError(f"the database refused WAL mode (journal_mode is {mode!r})")
        return
