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
        it just started: what was pushed while nobody listened was not announced."""
        if self.listening:
            return False
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
        return True

    async def _read(self, conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            async for note in conn.notifies():
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
        await self._drop()
