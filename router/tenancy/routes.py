"""Tenancy over HTTP: a tenant's own costs (`GET /v1/costs`) and the admin API (`/admin/...`).

The admin API needs the admin key (`Authorization: Bearer <admin key>`; the key is read from the
environment variable `stellwerk serve --admin-key-env` names, STELLWERK_ADMIN_KEY by default). Without
one configured, the admin API answers 403 and says how to enable it. Every change is written to the
audit log with the actor (`x-stellwerk-actor`, else "admin-api") and takes effect on every router
within a second (they poll the database's state version). The operator console (/console) uses
this API with its session cookie instead of the key; its changes are audited as `console:<operator>`.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from models.catalogue import ModelEntry
from router.store import ApiKey, AuditLog, Ban, BanKind, BanStore, KeyStore
from router.tenancy.admin import Admin
from router.tenancy.costs import cost_report, default_baseline
from router.tenancy.directory import parse_ban_target
from router.tenancy.http import Caller, tenancy_parts
from router.tenancy.service import TenancyService
from serving.errors import InvalidRequest, ModelNotFound

__all__ = ["router"]

router = APIRouter()

def _tenancy(request: Request) -> TenancyService:
    return tenancy_parts(request).tenancy


def _baseline(request: Request, model: str | None) -> ModelEntry | None:
    entries = [m.entry for m in tenancy_parts(request).registry.all()]
    if model is None:
        return default_baseline(entries)
    found = next((e for e in entries if model in (e.id, *e.aliases)), None)
    if found is None:
        raise ModelNotFound(f"baseline model {model!r} is not in the catalogue", param="baseline")
    return found


@router.get("/v1/costs")
async def tenant_costs(request: Request, ctx: Caller,
                       since: date | None = None, until: date | None = None,
                       baseline: str | None = None) -> dict[str, Any]:
    """The calling tenant's own costs (never another tenant's)."""
    tenancy = _tenancy(request)
    return await asyncio.to_thread(cost_report, tenancy.ledger, baseline=_baseline(request, baseline),
                                   tenant=ctx.tenant, since=since, until=until)


# -- admin --------------------------------------------------------------------------------------


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)


class BanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: str = Field(description="'provider:<name>' or 'model:<id>'")
    reason: str = Field(default="", max_length=500)


@router.post("/admin/keys")
async def create_key(body: KeyCreate, request: Request, actor: Admin) -> dict[str, Any]:
    tenancy = _tenancy(request)
    if tenancy.tenants.current.tenant(body.tenant) is None:
        raise InvalidRequest(f"tenant {body.tenant!r} is not in the tenants file "
                             f"({', '.join(sorted(tenancy.tenants.current.tenants)) or 'none configured'})",
                             param="tenant")
    key, secret = await asyncio.to_thread(KeyStore(tenancy.db).create, body.tenant, body.name, actor=actor)
    await asyncio.to_thread(tenancy.directory.refresh)
    return {**_key_json(key), "secret": secret}


@router.get("/admin/keys")
async def list_keys(request: Request, _: Admin, tenant: str | None = None) -> dict[str, Any]:
    keys = await asyncio.to_thread(KeyStore(_tenancy(request).db).list, tenant)
    return {"object": "list", "data": [_key_json(k) for k in keys]}


@router.delete("/admin/keys/{key_id}")
async def revoke_key(key_id: str, request: Request, actor: Admin) -> dict[str, Any]:
    tenancy = _tenancy(request)
    try:
        key = await asyncio.to_thread(KeyStore(tenancy.db).revoke, key_id, actor=actor)
    except KeyError:
        raise ModelNotFound(f"no API key {key_id!r}", param="key_id", code="key_not_found") from None
    await asyncio.to_thread(tenancy.directory.refresh)
    return _key_json(key)


@router.get("/admin/bans")
async def list_bans(request: Request, _: Admin) -> dict[str, Any]:
    bans = await asyncio.to_thread(BanStore(_tenancy(request).db).active)
    return {"object": "list", "data": [_ban_json(b) for b in bans]}


@router.post("/admin/bans")
async def ban(body: BanRequest, request: Request, actor: Admin) -> dict[str, Any]:
    tenancy = _tenancy(request)
    kind, target = parse_target(body.target)
    made = await asyncio.to_thread(BanStore(tenancy.db).ban, kind, target, reason=body.reason, actor=actor)
    await asyncio.to_thread(tenancy.directory.refresh)
    return _ban_json(made)


@router.delete("/admin/bans/{kind}/{target:path}")
async def lift_ban(kind: str, target: str, request: Request, actor: Admin) -> dict[str, Any]:
    tenancy = _tenancy(request)
    checked_kind, _ = parse_target(f"{kind}:{target}")
    lifted = await asyncio.to_thread(BanStore(tenancy.db).lift, checked_kind, target, actor=actor)
    await asyncio.to_thread(tenancy.directory.refresh)
    return {"kind": checked_kind, "target": target, "lifted": lifted}


@router.get("/admin/audit")
async def audit(request: Request, _: Admin,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> dict[str, Any]:
    entries = await asyncio.to_thread(AuditLog(_tenancy(request).db).entries, limit=limit)
    return {"object": "list", "data": [
        {"id": e.id, "ts": e.ts.isoformat(), "actor": e.actor, "action": e.action, "details": e.details}
        for e in entries]}


@router.get("/admin/costs")
async def all_costs(request: Request, _: Admin, tenant: str | None = None, since: date | None = None,
                    until: date | None = None, baseline: str | None = None) -> dict[str, Any]:
    return await asyncio.to_thread(cost_report, _tenancy(request).ledger,
                                   baseline=_baseline(request, baseline), tenant=tenant, since=since,
                                   until=until)


def parse_target(text: str) -> tuple[BanKind, str]:
    try:
        return parse_ban_target(text)
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="target") from None


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "tenant": key.tenant, "name": key.name, "created_at": key.created_at.isoformat(),
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None}


def _ban_json(ban: Ban) -> dict[str, Any]:
    return {"kind": ban.kind, "target": ban.target, "reason": ban.reason, "actor": ban.actor,
            "created_at": ban.created_at.isoformat()}
