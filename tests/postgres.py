"""A real, throwaway PostgreSQL server for tests, and the `database_url` fixture over both engines.

`postgres_server` (one per test session) runs `initdb` into a temporary folder and `pg_ctl start` on a
free loopback port, with its socket in that folder; as root it runs them as the `postgres` OS user
(PostgreSQL refuses to run as root). It stops the server and deletes the folder afterwards. Without the
server programs it FAILS, not skips: CI must prove the PostgreSQL path (`scripts/ensure_postgres.sh`).

Use from a test module with `pytest_plugins = ["tests.postgres"]` (registered once, so one server).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.store import Database

__all__ = ["PostgresServer", "database", "database_url", "find_server_bin", "postgres_server"]

SERVER_PROGRAMS = ("initdb", "pg_ctl")
MISSING = "PostgreSQL server programs (initdb, pg_ctl) not found: run scripts/ensure_postgres.sh"


def find_server_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<newest>/bin."""
    on_path = [shutil.which(p) for p in SERVER_PROGRAMS]
    if all(on_path):
        return Path(str(on_path[0])).resolve().parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name))
    for folder in reversed(debian):
        if all((folder / p).exists() for p in SERVER_PROGRAMS):
            return folder
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(x) for x in name.split(".") if x.isdigit())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One PostgreSQL instance in a temporary folder; `create_database` gives each test an empty database."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="stellwerk-pg-"))
        self._as_postgres: list[str] = []
        self._names = itertools.count()
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root without a `postgres` OS user: run scripts/ensure_postgres.sh")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_postgres = ["runuser", "-u", "postgres", "--"]

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        data, log = self.root / "data", self.root / "server.log"
        self._run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c shared_buffers=32MB -c max_connections=200")
        try:
            self._run("pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        except AssertionError:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise AssertionError(f"PostgreSQL did not start; its log ends:\n{tail}") from None

    def stop(self) -> None:
        if (self.root / "data" / "postmaster.pid").exists():
            # immediate: no shutdown checkpoint; the data folder is deleted next anyway
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}".encode())
        return self.url(name)

    def _run(self, program: str, *args: str) -> None:
        cmd = [*self._as_postgres, str(self.bindir / program), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{program} failed ({done.returncode}): {done.stderr.strip()[-2000:]}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One running PostgreSQL server for the whole test session."""
    bindir = find_server_bin()
    if bindir is None:
        pytest.fail(MISSING)
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each engine: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'stellwerk.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
def database(database_url: str, tmp_path: Path) -> Iterator[Database]:
    """`database_url` opened (and so migrated); closed after the test."""
    db = Database.open(database_url, default_path=tmp_path / "unused.db")
    try:
        yield db
    finally:
        db.close()
