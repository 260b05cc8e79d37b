"""Reserving with ``basic.get`` and settling by delivery tag.

Why ``basic.get`` and not a consumer: a consumer's prefetched-but-not-yet-handed-out
messages return to the queue when the process stops or crashes, and a quorum
queue then counts them in ``x-delivery-count`` as if they had run. Since attempts
are derived from that count, a job that never ran could lose a retry, or with
``retry: 0`` go to failed unrun. ``basic.get`` takes exactly what the worker has
free slots for, so only runs that really started are ever counted. The cost is
one round trip per job, and on a quorum queue a get is a Raft command
(~1.5 ms here): ~600 gets/s on one channel against ~3000/s for a prefetching
consumer. A batch reserve therefore spreads its gets over ``GETTERS`` channels
in parallel (~1200-1500/s); see benchmarks/amqp_bench.py.

Attempt arithmetic: the body's ``attempt`` counts runs up to the last publish;
each redelivery after a lost run adds one (``x-delivery-count``); this
reservation adds one more. Past ``max_retries + 1`` the lost run was the last
allowed one: the job goes to failed with ``LEASE_LOST`` instead of running.

The lease is the channel: there is no renew, a lost connection returns the
job to the queue, and RabbitMQ's ``consumer_timeout`` bounds how long it may be held.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import aiormq
from aiormq import spec
from aiormq.abc import DeliveredMessage

from ...errors import DriverError
from ...job import Envelope
from ...records import CorruptRecord
from ..base import LEASE_LOST, Outcome, Reserved
from . import names, wire
from .link import CLIENT_ERRORS, GETTERS, Link, log
from .publishing import Publisher

#: Seconds an ack may take before the delivery's channel is taken for dead.
ACK_TIMEOUT = 5.0


@dataclass(slots=True)
class Held:
    queue: str
    env: Envelope
    channel: aiormq.abc.AbstractChannel
    tag: int


class Deliveries:
    def __init__(self, link: Link, publisher: Publisher, consumer_timeout: float) -> None:
        self.link = link
        self.publisher = publisher
        self.consumer_timeout = consumer_timeout
        self.held: dict[str, Held] = {}

    async def reserve(self, queue: str, count: int) -> list[Reserved]:
        """Up to ``count`` jobs, the gets spread over the getter channels in parallel."""
        await self.publisher.topology.ensure(queue)
        lanes = min(count, GETTERS)
        shares = [count // lanes + (1 if i < count % lanes else 0) for i in range(lanes)]
        results = await asyncio.gather(
            *(self._take(queue, i, n) for i, n in enumerate(shares)), return_exceptions=True
        )
        out = [r for batch in results if isinstance(batch, list) for r in batch]
        out.sort(key=lambda r: (r.envelope.available_at, r.envelope.id))  # lanes interleave
        errors = [e for e in results if isinstance(e, BaseException)]
        if errors and not out:  # else hand out what was taken: those runs are real
            raise errors[0]
        return out

    async def _take(self, queue: str, lane: int, count: int) -> list[Reserved]:
        name = names.work_queue(self.publisher.topology.prefix, queue)
        out: list[Reserved] = []
        channel = await self.link.raw(lane)
        while len(out) < count:
            try:
                with self.link.guard(f"get from '{name}'"):
                    msg = await channel.basic_get(name, no_ack=False)
            except Exception:
                if out:
                    return out
                raise
            if not isinstance(msg.delivery, spec.Basic.GetOk):
                break
            tag = msg.delivery.delivery_tag
            assert tag is not None  # always set on GetOk
            reserved = await self._admit(queue, channel, msg, tag)
            if reserved is not None:
                out.append(reserved)
        return out

    async def _admit(
        self, queue: str, channel: aiormq.abc.AbstractChannel, msg: DeliveredMessage,
        tag: int,
    ) -> Reserved | None:
        now = time.time()
        try:
            env = wire.decode_job(msg, queue)
        except CorruptRecord as exc:
            # Failed where it was found: never re-published to the queue it names.
            rec = wire.corrupt_record(queue, msg, exc)
            await self._to_failed(channel, tag, rec)
            log.warning("amqp: job %s of queue '%s' moved to failed: %s",
                        rec.envelope.id, queue, rec.error)
            return None
        attempt = env.attempt + wire.delivery_count(msg) + 1
        if attempt > env.max_attempts:
            rec = wire.FailedRecord(env.evolve(attempt=attempt - 1), LEASE_LOST, None, now)
            await self._to_failed(channel, tag, rec)
            return None
        env = env.evolve(attempt=attempt)
        token = uuid.uuid4().hex
        self.held[token] = Held(queue, env, channel, tag)
        return Reserved(env, token, now + self.consumer_timeout)

    async def _to_failed(
        self, channel: aiormq.abc.AbstractChannel, tag: int, rec: wire.FailedRecord
    ) -> None:
        try:
            await self.publisher.failed(rec)
        except Exception:
            # Not recorded as failed: give it back rather than hold it forever.
            with self.link.guard("requeue"):
                await channel.basic_reject(tag, requeue=True)
            raise
        with self.link.guard("ack"):
            await channel.basic_ack(tag)

    # ---- settling -------------------------------------------------------------------

    async def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        results = await asyncio.gather(
            *(self._settle_one(o) for o in outcomes), return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return [bool(r) for r in results]

    async def _settle_one(self, o: Outcome) -> bool:
        held = self.held.pop(o.token, None)  # popped first: a token settles once
        if held is None or held.env.id != o.job_id:
            if held is not None:
                self.held[o.token] = held
            return False
        if held.channel.is_closed:
            return False  # the broker gives the job back itself
        try:
            if o.kind == "release":
                await self._republish(held, o)
            elif o.kind == "fail":
                rec = wire.FailedRecord(held.env, o.error or "failed", o.traceback, time.time())
                await self.publisher.failed(rec)
        except DriverError:
            if held.channel.is_closed:
                return False
            self.held[o.token] = held  # still ours: the caller may retry
            raise
        return await self._ack(held)

    async def _ack(self, held: Held) -> bool:
        """Ack on the channel the job came from; False when that channel is gone.

        After a forced close the old channel may not know yet that it is dead, and an
        ack on it can wait forever: bounded, and any failure means the broker gives the
        job back by itself (a release or fail already published its copy: at worst a
        duplicate run, never a lost job).
        """
        if held.channel.is_closed:
            return False
        try:
            async with asyncio.timeout(ACK_TIMEOUT):
                await held.channel.basic_ack(held.tag)
        except (TimeoutError, *CLIENT_ERRORS):
            return False
        return True

    async def _republish(self, held: Held, o: Outcome) -> None:
        attempt = held.env.attempt - 1 if o.give_back_attempt else held.env.attempt
        env = held.env.evolve(attempt=max(attempt, 0), available_at=time.time() + o.delay)
        await self.publisher.job(env, o.delay)
