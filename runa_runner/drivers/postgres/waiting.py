"""Idle workers wake on LISTEN/NOTIFY instead of polling.

Every push (and release, and retry of failed jobs) calls ``pg_notify(channel, queue)``
in its own statement, so the notification is delivered when the pushing transaction
commits and never for one rolled back. Per event loop one connection LISTENs; a
reader task sets the queue's event. An event is cleared only after a wait returns, so
a notification that arrives between a reserve and the next wait still wakes it.
With ``notify: false`` (a pooler in transaction mode cannot LISTEN) nothing listens and
idle workers poll, woken early only by pushes from their own process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import psycopg

from ..base import wait_any
from .connection import Settings
from .queries import quote_ident


class Listener:
    """The events of one event loop's waiters, and (with notify) the LISTEN connection."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._events: dict[str, asyncio.Event] = {}
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._connecting: asyncio.Task[None] | None = None

    def event(self, queue: str) -> asyncio.Event:
        ev = self._events.get(queue)
        if ev is None:
            ev = self._events[queue] = asyncio.Event()
        return ev

    def wake(self, queues: Sequence[str] | None = None) -> None:
        """Set the events of ``queues`` (all when None); call on the listener's loop."""
        for name, ev in self._events.items():
            if queues is None or name in queues:
                ev.set()

    @property
    def listening(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def listen(self) -> bool:
        """Start LISTEN if it is not running (again, after a lost connection); True when
        it just started: what was pushed while nobody listened was not announced.

        Connecting runs in a task of its own, shielded: a wait cancelled meanwhile (the
        worker stopping, a job arriving) leaves it to finish rather than cancelling a
        connection attempt half-way, which psycopg does not survive cleanly.
        """
        if self.listening:
            return False
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.create_task(self._connect())
            self._connecting.add_done_callback(_consume)
        await asyncio.shield(self._connecting)
        return True

    async def _connect(self) -> None:
        await self._drop()
        conn = await psycopg.AsyncConnection.connect(
            self._settings.url, **self._settings.connect_options())
        try:
            await conn.execute(b"LISTEN " + quote_ident(self._settings.channel).encode())
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._reader = asyncio.create_task(self._read(conn))

    async def _read(self, conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            async with contextlib.aclosing(conn.notifies()) as notes:
                async for note in notes:
                    ev = self._events.get(note.payload)
                    if ev is not None:
                        ev.set()
        except psycopg.Error:
            pass  # the next wait() reconnects, or reports the outage
        finally:
            self.wake()

    async def wait(self, queues: Sequence[str], timeout: float) -> None:
        events = [self.event(q) for q in queues]
        try:
            await wait_any(events, timeout)
        finally:
            for ev in events:
                ev.clear()

    async def _drop(self) -> None:
        reader, self._reader = self._reader, None
        conn, self._conn = self._conn, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                await reader
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()

    async def close(self) -> None:
        connecting, self._connecting = self._connecting, None
        if connecting is not None and not connecting.done():
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error, OSError):
                await connecting
        await self._drop()


def _consume(task: asyncio.Task[None]) -> None:
    """Mark the connect task's outcome as seen: the wait that started it reports it, or,
    if that wait was cancelled, the next wait tries again and reports its own."""
    if not task.cancelled():
        task.exception()
