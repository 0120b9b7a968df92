"""Console sessions: after logging in with the admin key, the browser holds a signed cookie instead.

The cookie is `<actor>.<issued>.<mac>`, the MAC an HMAC-SHA256 of the actor and issue time under the
admin key: no session state on the router (every router with the same key accepts it), and changing
the admin key ends every session. Requests that change something with the cookie must also send
`x-stellwerk-console: 1`, a header a cross-site form cannot set (with SameSite=Strict, against CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping

__all__ = ["CONSOLE_HEADER", "COOKIE", "SESSION_S", "actor_of", "issue"]

COOKIE = "stellwerk_console"
CONSOLE_HEADER = "x-stellwerk-console"
SESSION_S = 12 * 3600
_ACTOR = re.compile(r"^[\w@:-]{1,64}$")
_SAFE_METHODS = frozenset({"GET", "HEAD"})


def _mac(admin_key: str, actor: str, issued: int) -> str:
    return hmac.new(admin_key.encode(), f"console|{actor}|{issued}".encode(), hashlib.sha256).hexdigest()


def valid_actor(name: str) -> bool:
    return bool(_ACTOR.match(name))


def issue(admin_key: str, actor: str, now: Callable[[], float] = time.time) -> str:
    """A session cookie's value for `actor` (letters, digits, _ @ : -)."""
    if not valid_actor(actor):
        raise ValueError(f"not a valid operator name: {actor!r}")
    issued = int(now())
    return f"{actor}.{issued}.{_mac(admin_key, actor, issued)}"


def actor_of(cookies: Mapping[str, str], headers: Mapping[str, str], method: str, admin_key: str,
             now: Callable[[], float] = time.time) -> str | None:
    """The operator a request's console cookie names, or None (no cookie, forged, expired, or a
    changing request without the console header)."""
    value = cookies.get(COOKIE, "")
    actor, _, rest = value.partition(".")
    issued_text, _, mac = rest.partition(".")
    if not (valid_actor(actor) and issued_text.isdigit() and mac):
        return None
    issued = int(issued_text)
    if not hmac.compare_digest(mac, _mac(admin_key, actor, issued)) or not 0 <= now() - issued <= SESSION_S:
        return None
    if method.upper() not in _SAFE_METHODS and headers.get(CONSOLE_HEADER) != "1":
        return None
    return actor
