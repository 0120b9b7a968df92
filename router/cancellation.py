"""Stop work for clients that went away (the pattern of vLLM's `with_cancellation`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

from serving.errors import ClientError

__all__ = ["ClientDisconnected", "cancel_on_disconnect"]

T = TypeVar("T")


class ClientDisconnected(ClientError):
    status_code = 499
    code = "client_disconnected"


async def cancel_on_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it if the client disconnects first.

    NOTE: `work` runs in the calling task and one watcher task waits for the disconnect and cancels
    the caller (not a task for the work plus `asyncio.wait` on both: that was two tasks and their
    callbacks per call, ~10 % of the router's CPU per request in the overhead profile)."""
    caller = asyncio.current_task()
    assert caller is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        await _wait_for_disconnect(request)
        gone = True
        caller.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        # Our own cancellation becomes ClientDisconnected; anyone else's (a deadline, shutdown) stays.
        if gone and caller.uncancel() == 0:
            raise ClientDisconnected("the client closed the connection") from None
        raise
    finally:
        watcher.cancel()


async def _wait_for_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
