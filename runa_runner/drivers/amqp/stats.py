"""Worker counters and live instances, visible to every process.

Counters: each worker process publishes its stat deltas (one small persistent
message per flush) to the durable classic queue ``<prefix>_stats.<worker>``.
Reading compacts: under a broker-side lock (an exclusive queue, which only one
connection can hold), take every delta with ``basic.get``, sum them, and in one
AMQP transaction publish the sum and ack the deltas. All of it touches that one
queue, where RabbitMQ transactions are atomic, so a crash mid-read neither
loses nor double-counts. Cost: one round trip per delta since the last read.

Instances: each live instance holds a consumer on ``<prefix>_workers.<worker>``
(nothing is ever published there); the queue's consumer count is the number of
live instances. A crashed process's connection closes and its consumer goes
with it (RabbitMQ heartbeats notice a silent peer within ~2 minutes), so the
heartbeat ``ttl`` is not needed; ``leave`` cancels the consumer at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiormq
from aio_pika.abc import AbstractRobustQueue
from aiormq import spec

from ...errors import DriverUnavailable
from ..base import StatsDelta, WorkerCounts
from . import names
from .link import CLIENT_ERRORS, Link
from .wire import properties

#: Idle worker-registry queues vanish after a day without consumers.
REGISTRY_ARGS: dict[str, Any] = {"x-expires": 86_400_000}
LOCK_TRIES = 100
LOCK_PAUSE = 0.05


class Stats:
    def __init__(self, link: Link, prefix: str) -> None:
        self.link = link
        self.prefix = prefix
        self._instances: dict[tuple[str, str], tuple[AbstractRobustQueue, str]] = {}
        self._lock = asyncio.Lock()

    async def add(self, worker: str, delta: StatsDelta) -> None:
        name = names.stats_queue(self.prefix, worker)
        body = json.dumps([delta.succeeded, delta.failed, delta.retried]).encode()
        with self.link.guard(f"stats publish to '{name}'"):
            channel = await self.link.raw("publisher")
            await channel.queue_declare(name, durable=True)
            await channel.basic_publish(body, routing_key=name, properties=properties(worker),
                                        mandatory=True)

    async def counts(self, worker: str) -> WorkerCounts:
        with self.link.guard(f"stats of worker '{worker}'"):
            channel = await self.link.raw("publisher")
            ok = await channel.queue_declare(names.workers_queue(self.prefix, worker),
                                             arguments=REGISTRY_ARGS)
            instances = int(ok.consumer_count or 0)
            async with self._lock:
                ok_, failed, retried = await self._compact(worker)
        return WorkerCounts(ok_ + failed + retried, ok_, failed, retried, instances)

    async def _compact(self, worker: str) -> list[int]:
        connection = self.link.connection
        assert connection is not None and connection.transport is not None
        name = names.stats_queue(self.prefix, worker)
        lock = name + ".lock"
        channel = await self._acquire(connection.transport.connection, lock, worker)
        try:
            return await self._sum_in_tx(channel, name)
        finally:
            with contextlib.suppress(*CLIENT_ERRORS):
                await channel.queue_delete(lock)
                await channel.close()

    async def _acquire(
        self, connection: aiormq.abc.AbstractConnection, lock: str, worker: str
    ) -> aiormq.abc.AbstractChannel:
        """A channel of a connection holding ``lock`` (an exclusive queue)."""
        for _ in range(LOCK_TRIES):
            channel = await connection.channel(publisher_confirms=False)
            try:
                await channel.queue_declare(lock, exclusive=True, auto_delete=True)
                return channel
            except aiormq.exceptions.ChannelLockedResource:
                await asyncio.sleep(LOCK_PAUSE)  # the broker closed that channel
        raise DriverUnavailable(f"stats of worker '{worker}' locked by another reader")

    async def _sum_in_tx(self, channel: aiormq.abc.AbstractChannel, name: str) -> list[int]:
        await channel.queue_declare(name, durable=True)
        await channel.tx_select()
        totals = [0, 0, 0]
        last_tag = None
        while True:
            msg = await channel.basic_get(name, no_ack=False)
            if not isinstance(msg.delivery, spec.Basic.GetOk):
                break
            last_tag = msg.delivery.delivery_tag
            with contextlib.suppress(ValueError, TypeError):
                values = json.loads(msg.body)
                for i in range(3):
                    totals[i] += int(values[i])
        if last_tag is not None:
            await channel.basic_publish(json.dumps(totals).encode(), routing_key=name,
                                        properties=properties("sum"))
            await channel.basic_ack(last_tag, multiple=True)
            await channel.tx_commit()
        return totals

    async def heartbeat(self, worker: str, instance: str) -> None:
        if (worker, instance) in self._instances:
            return
        with self.link.guard(f"register instance of worker '{worker}'"):
            channel = self.link.robust("worker")
            queue = await channel.declare_queue(names.workers_queue(self.prefix, worker),
                                                arguments=REGISTRY_ARGS)
            tag = await queue.consume(_ignore, no_ack=True)
        self._instances[(worker, instance)] = (queue, tag)

    async def leave(self, worker: str, instance: str) -> None:
        entry = self._instances.pop((worker, instance), None)
        if entry is not None:
            with self.link.guard(f"unregister instance of worker '{worker}'"):
                await entry[0].cancel(entry[1])


async def _ignore(_message: object) -> None:
    return None
