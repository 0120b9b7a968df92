"""A router with tenancy switched on (keys, tenant policies, bans, ledger) over fake engines."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.hot_reload import ConfigHolder
from router.store import CostQueries, Database, KeyStore
from router.tenancy.config import TenantsConfig, load_tenants_config
from router.tenancy.service import TenancyService
from tests.fakes import FakeApp, FakeChatEngine, FakeEmbeddingEngine, build_fake_app

__all__ = ["ADMIN_KEY", "TenantApp", "tenant_app"]

ADMIN_KEY = "admin-secret-for-tests"
_COLUMNS = ("request_id", "tenant", "key_id", "endpoint", "model", "provider", "prompt_tokens",
            "completion_tokens", "cost", "currency", "route", "objective", "status", "error_type")


@dataclass
class TenantApp:
    fake: FakeApp
    tenancy: TenancyService
    db: Database
    tenants_file: Path

    def key(self, tenant: str, name: str = "test") -> str:
        """A new API key's secret for `tenant`, visible to the router at once."""
        _, secret = KeyStore(self.db).create(tenant, name, actor="test")
        self.tenancy.directory.refresh()
        return secret

    @property
    def ledger(self) -> CostQueries:
        return CostQueries(self.db)

    def ledger_rows(self, at_least: int = 0, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """Every ledger row (as dicts), waiting up to `timeout_s` for at least `at_least` of them
        (records of refused requests are written without anyone waiting for them)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self.db.read() as cur:
                rows = cur.fetchall(f"SELECT {', '.join(_COLUMNS)} FROM ledger ORDER BY ts_us")
            if len(rows) >= at_least or time.monotonic() > deadline:
                return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]
            time.sleep(0.02)


def tenant_app(tmp_path: Path, tenants_yaml: str, chat: Iterable[FakeChatEngine] = (),
                 embed: Iterable[FakeEmbeddingEngine] = (), *, database: Path | None = None,
                 **kwargs: object) -> TenantApp:
    """A router whose tenants file and SQLite database live in `tmp_path` (or the given `database`)."""
    tenants_file = tmp_path / "tenants.yaml"
    tenants_file.write_text(tenants_yaml)
    db = Database.open(None, default_path=database or tmp_path / "stellwerk.db")
    holder: ConfigHolder[TenantsConfig] = ConfigHolder(tenants_file, load_tenants_config, what="tenants file")
    tenancy = TenancyService(holder, db)
    fake = build_fake_app(chat, embed, tenancy=tenancy, admin_key=ADMIN_KEY, **kwargs)  # type: ignore[arg-type]
    return TenantApp(fake, tenancy, db, tenants_file)
