"""The failed store: one durable quorum queue per work queue, one message per failed job.

AMQP cannot browse a queue, so reading it means taking messages and giving
them back: :meth:`FailedStore.scan` takes every message with ``basic.get``
(one round trip each), lets the caller decide which to keep, then returns the
kept ones (``basic.nack`` requeue) and acks the dropped ones. Cost: O(failed
jobs) round trips per listing, and while a scan runs the messages it holds are
invisible to a concurrent scan (which then sees fewer). Moves (retry) publish
the job to its work queue (confirmed) *before* acking the failed record, so a
crash in between duplicates and never loses.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from aiormq import spec

from ..base import JobRecord
from . import names
from .link import Link
from .publishing import Publisher
from .wire import FailedRecord

#: A scan's verdict for one record: keep it in the failed queue or drop it (ack).
Keep = Callable[[FailedRecord], Awaitable[bool]]


async def _keep_all(_rec: FailedRecord) -> bool:
    return True


class FailedStore:
    def __init__(self, link: Link, publisher: Publisher) -> None:
        self.link = link
        self.publisher = publisher

    def _name(self, queue: str) -> str:
        return names.failed_queue(self.publisher.topology.prefix, queue)

    async def scan(self, queue: str, keep: Keep, limit: int | None = None) -> list[FailedRecord]:
        """Visit up to ``limit`` failed records (oldest first); ack those ``keep`` rejects."""
        await self.publisher.topology.ensure(queue)
        name = self._name(queue)
        seen: list[FailedRecord] = []
        with self.link.guard(f"scan of '{name}'"):
            channel = await self.link.raw("worker")
            kept: list[int] = []
            try:
                while limit is None or len(seen) < limit:
                    msg = await channel.basic_get(name, no_ack=False)
                    if not isinstance(msg.delivery, spec.Basic.GetOk):
                        break
                    tag = msg.delivery.delivery_tag
                    assert tag is not None
                    rec = FailedRecord.from_body(
                        queue, msg.body, msg.header.properties.message_id)
                    seen.append(rec)
                    if await keep(rec):
                        kept.append(tag)
                    else:
                        await channel.basic_ack(tag)
            finally:
                for tag in kept:
                    if not channel.is_closed:
                        await channel.basic_nack(tag, requeue=True)
        return seen

    async def list(self, queue: str, limit: int, offset: int) -> list[JobRecord]:
        seen = await self.scan(queue, _keep_all, limit + offset)
        return [rec.record() for rec in seen[offset:offset + limit]]

    async def find(self, queue: str, job_id: str) -> JobRecord | None:
        found = [r for r in await self.scan(queue, _keep_all) if r.envelope.id == job_id]
        return found[0].record() if found else None

    async def delete(self, queue: str, job_id: str) -> bool:
        async def keep(rec: FailedRecord) -> bool:
            return rec.envelope.id != job_id

        seen = await self.scan(queue, keep)
        return any(r.envelope.id == job_id for r in seen)

    async def retry(self, queue: str, job_ids: Sequence[str] | None) -> int:
        wanted = None if job_ids is None else set(job_ids)
        moved = 0

        async def keep(rec: FailedRecord) -> bool:
            nonlocal moved
            if wanted is not None and rec.envelope.id not in wanted:
                return True
            if not rec.readable:  # it cannot run: it stays, for a look and a delete
                return True
            # Confirmed on the work queue before the failed record is acked.
            env = rec.envelope.evolve(attempt=0, available_at=time.time())
            await self.publisher.job(env, 0.0)
            moved += 1
            return False

        await self.scan(queue, keep)
        return moved

    async def purge(self, queue: str, older_than: float | None) -> int:
        if older_than is None:
            await self.publisher.topology.ensure(queue)
            with self.link.guard(f"purge of '{self._name(queue)}'"):
                channel = await self.link.raw("publisher")
                ok = await channel.queue_purge(self._name(queue))
            return int(ok.message_count or 0)

        async def keep(rec: FailedRecord) -> bool:
            return rec.failed_at >= older_than

        seen = await self.scan(queue, keep)
        return sum(1 for rec in seen if rec.failed_at < older_than)
