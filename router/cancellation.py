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
    """Await `work`, cancelling it if the client disconnects first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_for_disconnect(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        await _stop(task)
        raise
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    await _stop(task)
    raise ClientDisconnected("the client closed the connection")


async def _stop(task: asyncio.Future[T]) -> None:
    """Cancel `task` and wait until it has unwound (its `finally` blocks settle what it held)."""
    task.cancel()
    await asyncio.wait({task})


async def _wait_for_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
