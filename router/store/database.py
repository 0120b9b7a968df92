"""`Database`: opens SQLite or PostgreSQL from a URL, migrates it, and hands each thread its own connection.

URLs: None → SQLite at the caller's default path; `sqlite:///abs/path` (or `sqlite://relative/path`);
`postgresql://user[:password]@host:port/db` (also `postgres://`). Unknown schemes fail with the list.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from router.store.backend import BackendKind, Cursor, Dialect, Session, StoreError
from router.store.migrations import MIGRATIONS, apply_migrations
from router.store.sqlite_backend import SQLiteBackend

__all__ = ["Backend", "Database"]

logger = logging.getLogger(__name__)


class Backend(Protocol):
    """Makes connections to one database."""

    @property
    def kind(self) -> BackendKind: ...

    @property
    def dialect(self) -> Dialect: ...

    def describe(self) -> str:
        """Where the database is, without secrets."""
        ...

    def prepare(self) -> None:
        """One-time set-up before the first connection (folders, journal mode)."""
        ...

    def connect(self) -> Session:
        """A new connection."""
        ...


def _sqlite(url: str) -> Backend:
    return SQLiteBackend(Path(url.removeprefix("sqlite://")))


def _postgres(url: str) -> Backend:
    from router.store.postgres_backend import PostgresBackend  # psycopg only loads when it is used

    return PostgresBackend(url)


BACKENDS: dict[str, Callable[[str], Backend]] = {
    "sqlite": _sqlite, "postgresql": _postgres, "postgres": _postgres}


def backend_for(url: str) -> Backend:
    """The backend for a database URL, by its scheme."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    factory = BACKENDS.get(scheme)
    if factory is None:
        known = ", ".join(f"{s}://" for s in BACKENDS)
        raise StoreError(f"unknown database URL scheme {scheme or '(none)'!r}; known: {known}")
    return factory(url)


class Database:
    """A migrated database. Thread-safe: every thread gets (and keeps) its own connection."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._local = threading.local()
        self._sessions: list[Session] = []
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, url: str | None, *, default_path: Path) -> Database:
        """Open (creating if needed) and migrate the database at `url`, or SQLite at `default_path`."""
        backend = SQLiteBackend(default_path) if url is None else backend_for(url)
        backend.prepare()
        db = cls(backend)
        try:
            with db.write() as cur:
                applied = apply_migrations(cur, backend.dialect, backend.kind, MIGRATIONS)
        except BaseException:
            db.close()
            raise
        if applied:
            logger.info("database %s: applied migrations %s", backend.describe(), applied)
        return db

    @property
    def kind(self) -> BackendKind:
        return self._backend.kind

    def describe(self) -> str:
        """Where the database is, without secrets (for logs and `stellwerk status`)."""
        return self._backend.describe()

    def unavailable_errors(self) -> tuple[type[BaseException], ...]:
        """The exceptions that mean "the database cannot be reached now" for this backend's driver."""
        if self.kind == "postgresql":
            import psycopg

            return (StoreError, psycopg.OperationalError, psycopg.InterfaceError)
        return (StoreError, sqlite3.OperationalError)

    @contextmanager
    def write(self) -> Iterator[Cursor]:
        """One write transaction on this thread's connection; committed at the end of the block."""
        with self._session().write() as cur:
            yield cur

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        """A cursor for queries on this thread's connection."""
        with self._session().read() as cur:
            yield cur

    def close(self) -> None:
        """Close every thread's connection. Using the database afterwards raises StoreError."""
        with self._lock:
            self._closed = True
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def _session(self) -> Session:
        session: Session | None = getattr(self._local, "session", None)
        if session is not None and session.usable():
            return session
        if self._closed:
            raise StoreError(f"database {self.describe()} is closed")
        if session is not None:  # broken (e.g. the server restarted): replace it
            with self._lock:
                if session in self._sessions:
                    self._sessions.remove(session)
        fresh = self._backend.connect()
        with self._lock:
            if self._closed:
                fresh.close()
                raise StoreError(f"database {self.describe()} is closed")
            self._sessions.append(fresh)
        self._local.session = fresh
        return fresh
