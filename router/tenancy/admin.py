"""The admin API's caller: the admin key (or the operator console's session), and the actor to audit.

`Admin` is the endpoint parameter type that requires it; the admin routes (`router.tenancy.routes`) and
the console's own routes (`router.console.routes`) both use it.
"""

from __future__ import annotations

import hmac
import re
from typing import Annotated

from fastapi import Depends, Request

from router.errors import AuthenticationFailed, NotAllowed
from router.tenancy.console_session import actor_of as console_actor
from router.tenancy.http import tenancy_parts

__all__ = ["Admin"]

_ACTOR = re.compile(r"^[\w.@:-]{1,64}$")


async def _admin(request: Request) -> str:
    """FastAPI dependency: checks the admin key; returns the actor to audit."""
    expected = tenancy_parts(request).admin_key
    if not expected:
        raise NotAllowed("the admin API is disabled: start the router with the admin key in the environment "
                         "variable named by --admin-key-env (STELLWERK_ADMIN_KEY by default)",
                         code="admin_disabled")
    auth = request.headers.get("authorization", "")
    scheme, _, given = auth.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        operator = console_actor(request.cookies, request.headers, request.method, expected)
        if operator is not None:  # the operator console, logged in with the admin key
            return f"console:{operator}"
        raise AuthenticationFailed("the admin API needs 'Authorization: Bearer <admin key>'")
    actor = request.headers.get("x-stellwerk-actor", "")
    return f"admin-api:{actor}" if _ACTOR.match(actor) else "admin-api"


Admin = Annotated[str, Depends(_admin)]
"""An endpoint parameter of this type requires the admin key and receives the actor to audit."""
