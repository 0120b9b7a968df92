"""Opening databases: URLs, migrations (idempotent, and safe from several processes at once), threads."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from router.store import Database, StoreError, state_version
from router.store.database import backend_for
from router.store.migrations import MIGRATIONS
from router.store.postgres_backend import redact_url, to_pyformat

pytest_plugins = ["tests.postgres"]

REPO = Path(__file__).resolve().parents[2]


def migrations_of(db: Database) -> list[tuple[int, str]]:
    with db.read() as cur:
        return [(int(v), str(n)) for v, n in cur.fetchall("SELECT version, name FROM schema_migrations "
                                                          "ORDER BY version")]


def test_none_opens_sqlite_at_the_default_path_and_creates_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "stellwerk" / "stellwerk.db"
    db = Database.open(None, default_path=path)
    try:
        assert db.kind == "sqlite" and path.exists()
        with db.read() as cur:
            assert cur.fetchall("PRAGMA journal_mode") == [("wal",)]
            assert cur.fetchall("PRAGMA synchronous") == [(1,)]  # NORMAL
    finally:
        db.close()


def test_urls_choose_the_engine_and_unknown_schemes_are_refused(tmp_path: Path) -> None:
    assert backend_for(f"sqlite://{tmp_path}/a.db").kind == "sqlite"
    assert backend_for("postgresql://u@localhost:5432/db").kind == "postgresql"
    assert backend_for("postgres://u@localhost/db").kind == "postgresql"
    with pytest.raises(StoreError, match=r"unknown database URL scheme 'mysql'; known: sqlite://, postgresql://"):
        backend_for("mysql://u@h/db")


def test_passwords_never_appear_in_descriptions_or_connection_errors(tmp_path: Path) -> None:
    assert redact_url("postgresql://app:s3cr3t@db.internal:5432/stw") == "postgresql://app:***@db.internal:5432/stw"
    assert redact_url("postgresql://app@db/stw") == "postgresql://app@db/stw"
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreError) as err:
        Database.open(f"postgresql://app:s3cr3t@127.0.0.1:{port}/stw", default_path=tmp_path / "x.db")
    assert "s3cr3t" not in str(err.value) and "app:***@127.0.0.1" in str(err.value)


def test_placeholders_are_translated_in_one_place() -> None:
    assert to_pyformat("SELECT a FROM t WHERE b = ? AND c LIKE 'x%'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x%%'")


def test_migrations_are_recorded_once_and_reopening_adds_none(database_url: str, tmp_path: Path) -> None:
    first = Database.open(database_url, default_path=tmp_path / "unused.db")
    second = Database.open(database_url, default_path=tmp_path / "unused.db")
    try:
        expected = [(m.version, m.name) for m in MIGRATIONS]
        assert migrations_of(first) == expected
        assert migrations_of(second) == expected
        assert state_version(second) == 0
    finally:
        first.close()
        second.close()


OPEN_CHILD = """
import sys
from pathlib import Path
from router.store import Database
Database.open(sys.argv[1], default_path=Path("/nonexistent")).close()
print("opened")
"""


def test_several_processes_migrating_a_fresh_database_at_once(database_url: str, tmp_path: Path) -> None:
    children = [subprocess.Popen([sys.executable, "-c", OPEN_CHILD, database_url], cwd=REPO,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(4)]
    results = [child.communicate(timeout=120) for child in children]
    assert [c.returncode for c in children] == [0] * 4, [err for _, err in results]
    assert all(out.strip() == "opened" for out, _ in results)
    db = Database.open(database_url, default_path=tmp_path / "unused.db")
    try:
        assert migrations_of(db) == [(m.version, m.name) for m in MIGRATIONS]
    finally:
        db.close()


def test_each_thread_gets_its_own_connection_and_writes_do_not_collide(database: Database) -> None:
    def bump(times: int) -> None:
        for _ in range(times):
            with database.write() as cur:
                cur.execute("UPDATE state SET version = version + 1 WHERE id = 1")

    threads = [threading.Thread(target=bump, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state_version(database) == 100


def test_a_failed_transaction_is_rolled_back(database: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"), database.write() as cur:
        cur.execute("UPDATE state SET version = 41 WHERE id = 1")
        raise RuntimeError("boom")
    assert state_version(database) == 0


def test_a_closed_database_refuses_use(database_url: str, tmp_path: Path) -> None:
    db = Database.open(database_url, default_path=tmp_path / "unused.db")
    db.close()
    with pytest.raises(StoreError, match="is closed"):
        state_version(db)
