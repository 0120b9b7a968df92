"""Versioned schema migrations, applied at open inside one write transaction.

Each migration runs once per database; `schema_migrations` records which did. Two processes opening the
same database at once are serialised: SQLite by BEGIN IMMEDIATE (the write lock), PostgreSQL by an
advisory lock taken first in the transaction (`Dialect.migration_lock`). DDL is transactional in both
backends, so a failed migration leaves nothing half-applied. Append new migrations; never edit old ones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from router.store.backend import BackendKind, Cursor, Dialect
from router.store.clock import now, to_us

__all__ = ["MIGRATIONS", "Migration", "apply_migrations"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    """One schema step: SQL for all backends (`{autoid}`: the id column type) plus per-backend extras."""

    version: int
    name: str
    common: tuple[str, ...]
    per_backend: Mapping[BackendKind, tuple[str, ...]] = field(default_factory=dict)

    def statements(self, dialect: Dialect, kind: BackendKind) -> list[str]:
        return [s.format(autoid=dialect.autoid) for s in self.common] + list(self.per_backend.get(kind, ()))


_AUDIT_SQLITE = tuple(
    f"CREATE TRIGGER audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {op} refused'); END"
    for op in ("UPDATE", "DELETE"))

_AUDIT_POSTGRES = (
    "CREATE OR REPLACE FUNCTION stellwerk_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP; END $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION stellwerk_audit_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION stellwerk_audit_append_only()",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "keys, bans, audit log, state version", (
        "CREATE TABLE api_keys (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, "
        "secret_hash TEXT NOT NULL UNIQUE, created_at_us BIGINT NOT NULL, revoked_at_us BIGINT)",
        "CREATE INDEX api_keys_tenant ON api_keys (tenant)",
        "CREATE TABLE bans (kind TEXT NOT NULL CHECK (kind IN ('provider', 'model')), "
        "target TEXT NOT NULL, reason TEXT NOT NULL, actor TEXT NOT NULL, created_at_us BIGINT NOT NULL, "
        "PRIMARY KEY (kind, target))",
        "CREATE TABLE audit_log (id {autoid}, ts_us BIGINT NOT NULL, actor TEXT NOT NULL, "
        "action TEXT NOT NULL, details TEXT NOT NULL)",
        "CREATE INDEX audit_log_ts ON audit_log (ts_us)",
        "CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)",
        "INSERT INTO state (id, version) VALUES (1, 0)",
    ), {"sqlite": _AUDIT_SQLITE, "postgresql": _AUDIT_POSTGRES}),
    Migration(2, "cost ledger", (
        "CREATE TABLE ledger (id {autoid}, ts_us BIGINT NOT NULL, day TEXT NOT NULL, "
        "request_id TEXT NOT NULL, tenant TEXT NOT NULL, key_id TEXT, endpoint TEXT NOT NULL, "
        "model TEXT NOT NULL, provider TEXT NOT NULL, prompt_tokens BIGINT NOT NULL, "
        "completion_tokens BIGINT NOT NULL, cost DOUBLE PRECISION NOT NULL, currency TEXT NOT NULL, "
        "latency_ms DOUBLE PRECISION NOT NULL, route TEXT NOT NULL, objective TEXT, status INTEGER NOT NULL, "
        "error_type TEXT)",
        "CREATE INDEX ledger_tenant_ts ON ledger (tenant, ts_us)",
        "CREATE INDEX ledger_day ON ledger (day)",
        "CREATE INDEX ledger_request ON ledger (request_id)",
    )),
    Migration(3, "ledger trace id", (
        "ALTER TABLE ledger ADD COLUMN trace_id TEXT",
    )),
    Migration(4, "ledger cached and reasoning tokens", (
        "ALTER TABLE ledger ADD COLUMN cached_tokens BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE ledger ADD COLUMN reasoning_tokens BIGINT NOT NULL DEFAULT 0",
    )),
    Migration(5, "stored responses (previous_response_id)", (
        "CREATE TABLE stored_responses (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, "
        "created_at_us BIGINT NOT NULL, model TEXT NOT NULL, messages TEXT NOT NULL)",
        "CREATE INDEX stored_responses_tenant ON stored_responses (tenant, created_at_us)",
    )),
    Migration(6, "cluster-wide rate-limit window", (
        "CREATE TABLE rate_window (id {autoid}, tenant TEXT NOT NULL, at_us BIGINT NOT NULL, "
        "tokens BIGINT NOT NULL)",
        "CREATE INDEX rate_window_tenant_at ON rate_window (tenant, at_us)",
    )),
    Migration(7, "cluster-wide circuit breakers and spillover", (
        "CREATE TABLE routing_state (kind TEXT NOT NULL, model TEXT NOT NULL, objective TEXT NOT NULL, "
        "active INTEGER NOT NULL, since_us BIGINT NOT NULL, until_us BIGINT NOT NULL, "
        "failures INTEGER NOT NULL, detail TEXT NOT NULL, origin TEXT NOT NULL, updated_us BIGINT NOT NULL, "
        "PRIMARY KEY (kind, model, objective))",
    )),
)


def apply_migrations(cur: Cursor, dialect: Dialect, kind: BackendKind,
                     migrations: Sequence[Migration]) -> list[int]:
    """Apply the migrations this database lacks, in version order; returns the versions applied.

    Call inside a write transaction: the lock, the check and the DDL must commit together.
    """
    if dialect.migration_lock is not None:
        cur.fetchall(dialect.migration_lock)
    cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at_us BIGINT NOT NULL)")
    done = {int(v) for (v,) in cur.fetchall("SELECT version FROM schema_migrations")}
    applied = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        for statement in migration.statements(dialect, kind):
            cur.execute(statement)
        cur.execute("INSERT INTO schema_migrations (version, name, applied_at_us) VALUES (?, ?, ?)",
                    (migration.version, migration.name, to_us(now())))
        applied.append(migration.version)
    newer = sorted(done - {m.version for m in migrations})
    if newer:
        logger.warning("the database has migrations %s that this Stellwerk does not know: "
                       "a newer version has used it", newer)
    return applied
