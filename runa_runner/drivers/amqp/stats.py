"""Worker counters and live instances, kept in the broker so every process sees them.

Both live in small durable classic queues that writers only append to:

* ``<prefix>_stats.<worker>``: one message per stat flush, ``[succeeded, failed, retried]``.
* ``<prefix>_workers.<worker>``: one message per heartbeat, ``{"i": instance,
  "until": epoch}`` with a broker-side expiration of ``ttl``; ``leave`` appends
  a tombstone ``{"i": instance, "left": true}``.

Reading compacts, under a broker-side lock (an exclusive queue, which only one
connection can hold; it vanishes if the reader dies): take every message with
``basic.get``, then in one AMQP transaction per queue publish the summary (the
summed counters; one heartbeat per live instance) and ack what was read. A
transaction touching a single queue is atomic in RabbitMQ, so a crash mid-read
neither loses nor double-counts. Cost: one round trip per message appended
since the last read (a flush every few seconds per worker process). Instance
liveness compares ``until`` with the reader's clock, so hosts need roughly
synchronised clocks (as for any TTL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import aiormq
from aiormq import spec

from ...errors import DriverUnavailable
from ..base import StatsDelta, WorkerCounts
from . import names
from .link import CLIENT_ERRORS, Link

LOCK_TRIES = 100
LOCK_PAUSE = 0.05
#: A tombstone outlives any heartbeat of the instance it buries.
TOMBSTONE_MS = 3_600_000

Compactor = Callable[[list[Any]], list[tuple[Any, int | None]]]


def _props(expiration_ms: int | None = None) -> spec.Basic.Properties:
    return spec.Basic.Properties(
        content_type="application/json", delivery_mode=2,
        expiration=None if expiration_ms is None else str(max(1, expiration_ms)),
    )


def sum_deltas(bodies: list[Any]) -> list[tuple[Any, int | None]]:
    totals = [0, 0, 0]
    for values in bodies:
        with contextlib.suppress(ValueError, TypeError, IndexError):
            for i in range(3):
                totals[i] += int(values[i])
    return [(totals, None)]


def live_instances(bodies: list[Any]) -> list[tuple[Any, int | None]]:
    now = time.time()
    until: dict[str, float] = {}
    left: set[str] = set()
    for body in bodies:
        if not isinstance(body, dict) or not isinstance(body.get("i"), str):
            continue
        if body.get("left"):
            left.add(body["i"])
        elif isinstance(body.get("until"), int | float):
            until[body["i"]] = max(until.get(body["i"], 0.0), float(body["until"]))
    out: list[tuple[Any, int | None]] = [
        ({"i": i, "until": u}, int((u - now) * 1000))
        for i, u in until.items() if u > now and i not in left
    ]
    # Keep tombstones of instances that still have an unexpired heartbeat somewhere.
    out += [({"i": i, "left": True}, TOMBSTONE_MS) for i in left if until.get(i, 0) > now]
    return out


class Stats:
    def __init__(self, link: Link, prefix: str) -> None:
        self.link = link
        self.prefix = prefix
        self._lock = asyncio.Lock()

    async def _append(self, name: str, body: Any, expiration_ms: int | None = None) -> None:
        with self.link.guard(f"publish to '{name}'"):
            channel = await self.link.raw("publisher")
            await channel.queue_declare(name, durable=True)
            await channel.basic_publish(json.dumps(body).encode(), routing_key=name,
                                        properties=_props(expiration_ms), mandatory=True)

    async def add(self, worker: str, delta: StatsDelta) -> None:
        await self._append(names.stats_queue(self.prefix, worker),
                           [delta.succeeded, delta.failed, delta.retried])

    async def heartbeat(self, worker: str, instance: str, ttl: float) -> None:
        await self._append(names.workers_queue(self.prefix, worker),
                           {"i": instance, "until": time.time() + ttl}, int(ttl * 1000))

    async def leave(self, worker: str, instance: str) -> None:
        await self._append(names.workers_queue(self.prefix, worker),
                           {"i": instance, "left": True}, TOMBSTONE_MS)

    async def counts(self, worker: str) -> WorkerCounts:
        with self.link.guard(f"stats of worker '{worker}'"):
            await self.link.raw("publisher")  # waits out a reconnect, bounded
            async with self._lock:
                channel = await self._acquire(worker)
                try:
                    [(totals, _)] = await self._compact(
                        channel, names.stats_queue(self.prefix, worker), sum_deltas)
                    live = await self._compact(
                        channel, names.workers_queue(self.prefix, worker), live_instances)
                finally:
                    with contextlib.suppress(*CLIENT_ERRORS):
                        await channel.queue_delete(self._lock_name(worker))
                        await channel.close()
        instances = sum(1 for body, _ in live if not body.get("left"))
        ok, failed, retried = totals
        return WorkerCounts(ok + failed + retried, ok, failed, retried, instances)

    def _lock_name(self, worker: str) -> str:
        return names.stats_queue(self.prefix, worker) + ".lock"

    async def _acquire(self, worker: str) -> aiormq.abc.AbstractChannel:
        """A fresh channel whose connection holds the worker's lock (an exclusive queue)."""
        conn = self.link.connection
        assert conn is not None and conn.transport is not None
        for _ in range(LOCK_TRIES):
            channel = await conn.transport.connection.channel(publisher_confirms=False)
            try:
                await channel.queue_declare(self._lock_name(worker), exclusive=True)
                return channel
            except aiormq.exceptions.ChannelLockedResource:
                await asyncio.sleep(LOCK_PAUSE)  # the broker closed that channel
        raise DriverUnavailable(f"stats of worker '{worker}' stay locked by another reader")

    async def _compact(
        self, channel: aiormq.abc.AbstractChannel, name: str, summarise: Compactor
    ) -> list[tuple[Any, int | None]]:
        await channel.queue_declare(name, durable=True)
        await channel.tx_select()
        bodies: list[Any] = []
        last_tag = None
        while True:
            msg = await channel.basic_get(name, no_ack=False)
            if not isinstance(msg.delivery, spec.Basic.GetOk):
                break
            last_tag = msg.delivery.delivery_tag
            with contextlib.suppress(ValueError):
                bodies.append(json.loads(msg.body))
        summary = summarise(bodies)
        if last_tag is not None:
            for body, expiration in summary:
                await channel.basic_publish(json.dumps(body).encode(), routing_key=name,
                                            properties=_props(expiration))
            await channel.basic_ack(last_tag, multiple=True)
            await channel.tx_commit()
        return summary
