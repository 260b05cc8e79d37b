"""Waking an idle worker when a job arrives, without polling.

Each process that waits declares one exclusive, auto-deleted wake queue, bound
to the exchange with the routing key of every queue it waits on: a job
published (or dead-lettered back from a holding queue) for ``mail`` lands in
``runa.mail`` *and* in each waiting process's wake queue. The wake queue keeps
at most one message (``x-max-length: 1``, oldest dropped) and is consumed with
prefetch 1, acknowledging the previous wake-up only when the worker waits
again: so a busy worker receives at most one wake-up per idle period, not a copy
of every job. The robust connection re-declares, re-binds and re-consumes it
after a reconnect; a wake-up lost in an outage costs one ``poll_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustQueue

from ..base import wait_any
from . import names
from .link import CLIENT_ERRORS, Link
from .topology import Topology


class Waker:
    def __init__(self, link: Link, topology: Topology) -> None:
        self.link = link
        self.topology = topology
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractRobustQueue | None = None
        self._bound: set[str] = set()
        self._events: dict[str, asyncio.Event] = {}
        self._unacked: AbstractIncomingMessage | None = None

    def _event(self, queue: str) -> asyncio.Event:
        return self._events.setdefault(queue, asyncio.Event())

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._event(message.routing_key or "").set()
        previous, self._unacked = self._unacked, message
        if previous is not None:
            with contextlib.suppress(*CLIENT_ERRORS):
                await previous.ack()

    async def _ensure(self, queues: Sequence[str]) -> None:
        missing = [q for q in queues if q not in self._bound]
        if not missing:
            return
        with self.link.guard("declare wake queue"):
            if self._queue is None:
                connection = self.link.connection
                assert connection is not None
                self._channel = await connection.channel(publisher_confirms=False)
                await self._channel.set_qos(prefetch_count=1)
                name = names.wake_queue(self.topology.prefix, uuid.uuid4().hex[:12])
                self._queue = await self._channel.declare_queue(
                    name, exclusive=True, auto_delete=True, arguments={"x-max-length": 1}
                )
                await self._queue.consume(self._on_message)
            for queue in missing:
                await self.topology.ensure(queue)
                routing_key = names.work_queue(self.topology.prefix, queue)
                await self._queue.bind(self.topology.exchange_name, routing_key=routing_key)
                self._bound.add(queue)

    async def wait(self, queues: Sequence[str], timeout: float) -> None:
        # Shielded: a cancelled RPC makes aiormq close the channel.
        await asyncio.shield(self._ensure(queues))
        events = [self._event(names.work_queue(self.topology.prefix, q)) for q in queues]
        if not any(ev.is_set() for ev in events):
            message, self._unacked = self._unacked, None
            if message is not None:  # let the next wake-up in
                with contextlib.suppress(*CLIENT_ERRORS):
                    await message.ack()
            await wait_any(events, timeout)
        for ev in events:
            ev.clear()

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            with contextlib.suppress(*CLIENT_ERRORS):
                await channel.close()
