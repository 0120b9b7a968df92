"""The optional response store behind `previous_response_id`: each stored response is the whole
conversation so far as Chat messages, in Stellwerk's own database (on the operator's premises), readable
only by the tenant that created it. Without a store, `previous_response_id` is refused."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from router.store.clock import now, to_us
from router.store.database import Database

__all__ = ["ResponseStore"]


class ResponseStore:
    """Conversations by response id, per tenant."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, tenant: str, response_id: str, model: str, messages: list[dict[str, Any]]) -> None:
        await asyncio.to_thread(self._save, tenant, response_id, model, json.dumps(messages))

    async def load(self, tenant: str, response_id: str) -> list[dict[str, Any]] | None:
        """The conversation up to and including that response, or None (unknown, or another tenant's)."""
        text = await asyncio.to_thread(self._load, tenant, response_id)
        return None if text is None else list(json.loads(text))

    def _save(self, tenant: str, response_id: str, model: str, messages: str) -> None:
        with self._db.write() as cur:
            cur.execute("INSERT INTO stored_responses (id, tenant, created_at_us, model, messages) "
                        "VALUES (?, ?, ?, ?, ?)", (response_id, tenant, to_us(now()), model, messages))

    def _load(self, tenant: str, response_id: str) -> str | None:
        with self._db.read() as cur:
            rows = cur.fetchall("SELECT messages FROM stored_responses WHERE id = ? AND tenant = ?",
                                (response_id, tenant))
        return str(rows[0][0]) if rows else None
