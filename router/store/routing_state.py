"""Routing state every router shares: circuit breakers and spillover, one row per (kind, model, objective).

Each row holds the newest transition any router made: a breaker opened until a time or closed, a model
spilling since a time or back on local. Writers upsert with "newest wins" (`updated_us`), so routers
that write at once converge on the later transition whatever order their transactions commit in.
The table is tiny (one row per model and objective), so routers read it whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from router.store.database import Database

__all__ = ["RoutingStateRow", "RoutingStateStore", "StateKind"]

StateKind = Literal["breaker", "spill"]

_COLUMNS = ("kind", "model", "objective", "active", "since_us", "until_us", "failures", "detail", "origin",
            "updated_us")


@dataclass(frozen=True)
class RoutingStateRow:
    """One transition. `active`: the breaker is open / the model spills; times are Unix microseconds;
    `detail`: an error code (never message text); `origin`: the router that made the transition."""

    kind: StateKind
    model: str
    objective: str
    active: bool
    since_us: int
    until_us: int
    failures: int
    detail: str
    origin: str
    updated_us: int

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind, self.model, self.objective


class RoutingStateStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def publish(self, rows: Sequence[RoutingStateRow]) -> None:
        """Write the transitions in one transaction; a row older than the stored one is dropped."""
        if not rows:
            return
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[3:])
        sql = (f"INSERT INTO routing_state ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
               f"ON CONFLICT (kind, model, objective) DO UPDATE SET {updates} "
               "WHERE routing_state.updated_us <= excluded.updated_us")
        with self._db.write() as cur:
            cur.executemany(sql, [(r.kind, r.model, r.objective, int(r.active), r.since_us, r.until_us,
                                   r.failures, r.detail, r.origin, r.updated_us) for r in rows])

    def read(self) -> list[RoutingStateRow]:
        with self._db.read() as cur:
            rows = cur.fetchall(f"SELECT {', '.join(_COLUMNS)} FROM routing_state")
        return [RoutingStateRow(kind, str(model), str(objective), bool(active), int(since), int(until),
                                int(failures), str(detail), str(origin), int(updated))
                for kind, model, objective, active, since, until, failures, detail, origin, updated in rows]
