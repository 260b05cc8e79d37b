"""Borrowing a pooled connection without losing the caller's cancellation.

On Python 3.11 psycopg_pool waits for a free connection through ``asyncio.wait_for``,
which returns the connection, and drops the cancel, when both arrive together: a
worker stopping its unit would then run on. So the wait runs in a task of its own
behind ``asyncio.shield``: a cancel always reaches the caller at once, and a
connection the abandoned wait gets afterwards goes straight back to the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import psycopg_pool

#: Give-backs still running (the loop keeps only weak references to tasks).
_RETURNING: set[asyncio.Task[None]] = set()


@contextlib.asynccontextmanager
async def borrowed(
    pool: psycopg_pool.AsyncConnectionPool[Any],
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """``pool.connection()``, but a cancel while waiting for one is never swallowed."""
    if pool.get_stats().get("pool_available", 0):
        # A connection is ready: getconn hands it over without waiting, so there is no
        # wait to lose a cancel in (and no task to pay for on every call).
        conn = await pool.getconn()
    else:
        getting = asyncio.ensure_future(pool.getconn())
        try:
            conn = await asyncio.shield(getting)
        except asyncio.CancelledError:
            getting.add_done_callback(lambda done: _give_back(pool, done))
            raise
    try:
        yield conn
    finally:
        await pool.putconn(conn)


def _give_back(pool: psycopg_pool.AsyncConnectionPool[Any],
               getting: asyncio.Future[psycopg.AsyncConnection[Any]]) -> None:
    if getting.cancelled() or getting.exception() is not None:
        return  # nothing was borrowed (exception() also marks a timeout as seen)
    task = asyncio.ensure_future(pool.putconn(getting.result()))
    _RETURNING.add(task)
    task.add_done_callback(_RETURNING.discard)
