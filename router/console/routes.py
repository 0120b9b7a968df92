"""GET /console (the page), the login form, and the console's own read APIs. Changes (bans, keys) go
through the admin API (`router.tenancy.routes`), which accepts the console's session cookie."""

from __future__ import annotations

import asyncio
import hmac
from importlib import resources
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from router.console.page import console_page, login_page
from router.console.spend import WINDOWS, spend_over_time
from router.services import AppServices, services
from router.tenancy.admin import Admin
from router.tenancy.console_session import COOKIE, SESSION_S, actor_of, issue, valid_actor
from router.tenancy.costs import default_baseline
from serving.errors import InvalidRequest

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_STATIC = {"console.js": "text/javascript", "console.css": "text/css"}
_MAX_FORM_BYTES = 4096


def _operator(request: Request) -> str | None:
    """The logged-in operator (session cookie), or "admin" for the admin key in a bearer header."""
    key = services(request).admin_key
    if not key:
        return None
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), key.encode()):
        return "admin"
    return actor_of(request.cookies, request.headers, request.method, key)


@router.get("/console")
async def console(request: Request, svc: AppServices) -> Response:
    if not svc.admin_key:
        return HTMLResponse(login_page(disabled=True), status_code=403)
    operator = _operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    return HTMLResponse(console_page(operator), headers={"cache-control": "no-store"})


@router.get("/console/login")
async def login_form(svc: AppServices) -> HTMLResponse:
    return HTMLResponse(login_page(disabled=not svc.admin_key))


@router.post("/console/login")
async def login(request: Request, svc: AppServices) -> Response:
    key = svc.admin_key
    if not key:
        return HTMLResponse(login_page(disabled=True), status_code=403)
    form = parse_qs((await request.body())[:_MAX_FORM_BYTES].decode("utf-8", "replace"))
    given = form.get("key", [""])[0]
    name = form.get("operator", [""])[0].strip() or "operator"
    if not hmac.compare_digest(given.encode(), key.encode()):
        return HTMLResponse(login_page(error="That is not the admin key."), status_code=401)
    if not valid_actor(name):
        return HTMLResponse(login_page(error="Your name: letters, digits, _ @ : - (up to 64)."),
                            status_code=400)
    reply = RedirectResponse("/console", status_code=303)
    reply.set_cookie(COOKIE, issue(key, name), max_age=SESSION_S, httponly=True, samesite="strict",
                     path="/", secure=request.url.scheme == "https")
    return reply


@router.post("/console/logout")
async def logout() -> Response:
    reply = RedirectResponse("/console/login", status_code=303)
    reply.delete_cookie(COOKIE, path="/")
    return reply


@router.get("/console/static/{name}")
async def static(name: str) -> Response:
    if name not in _STATIC:
        return Response(status_code=404)
    text = resources.files("router.console").joinpath("static", name).read_text(encoding="utf-8")
    return Response(text, media_type=_STATIC[name], headers={"cache-control": "no-cache"})


@router.get("/console/api/decisions")
async def decisions(svc: AppServices, _: Admin,
                    limit: Annotated[int, Query(ge=1, le=200)] = 30) -> dict[str, Any]:
    """The latest routing decisions (newest first; features and candidates, never prompt text) and
    each chat model's circuit breaker."""
    routing = svc.routing
    latest = list(routing.recent)[-limit:][::-1]
    breakers = {e.id: routing.health.unhealthy_reason(e.id) for e in svc.registry.chat_candidates()}
    return {"object": "list", "data": latest, "breakers": breakers}


@router.get("/console/api/spend")
async def spend(svc: AppServices, _: Admin, window: str = "hour") -> dict[str, Any]:
    if window not in WINDOWS:
        raise InvalidRequest(f"window must be one of {', '.join(WINDOWS)}", param="window")
    baseline = default_baseline([m.entry for m in svc.registry.all()])
    return await asyncio.to_thread(spend_over_time, svc.tenancy.db, window, baseline)
