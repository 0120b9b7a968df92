"""The database layer: API keys, bans, the audit log, the cost ledger and stored Responses API answers
(`router.store.responses`), on SQLite or PostgreSQL.

One `Database` (SQLite by default, PostgreSQL when a `postgresql://` URL is configured) is migrated at
open and shared by the stores; the SQL is the same for both backends. All methods are synchronous; the
router calls them from threads, except `LedgerWriter.record`, which awaits its commit.
"""

from router.store.audit import AuditEntry, AuditLog
from router.store.backend import StoreError
from router.store.bans import Ban, BanKind, BanStore
from router.store.cost_queries import CostQueries, CostRow
from router.store.database import Database
from router.store.keys import ApiKey, KeyStore, hash_secret
from router.store.ledger import LedgerError, LedgerRecord, LedgerWriter
from router.store.state import state_version

__all__ = [
    "ApiKey",
    "AuditEntry",
    "AuditLog",
    "Ban",
    "BanKind",
    "BanStore",
    "CostQueries",
    "CostRow",
    "Database",
    "KeyStore",
    "LedgerError",
    "LedgerRecord",
    "LedgerWriter",
    "StoreError",
    "hash_secret",
    "state_version",
]
