"""The AMQP (RabbitMQ) driver: durable quorum queues, persistent messages,
publisher confirms on every publish, delay without plugins, and nothing lost.

Capabilities, and why not more:

* DELAY: holding queues per delay bucket (names.py), retries included.
* Not COUNT (which promises every state): ``counts`` gives ``pending`` and
  ``failed`` from queue declares, but ``delayed`` and ``reserved`` are null:
  AMQP cannot see other processes' holding queues or unacked deliveries, and a
  driver never guesses.
* FAILED_STORE: a failed queue per work queue, read by take-and-requeue
  (failed.py says the cost); ``list_failed`` works.
* Not LIST (which promises lookup by id in every state): ``get`` finds failed
  jobs (a scan) and jobs this process holds, nothing else: pending and delayed
  messages cannot be looked up by id in AMQP.
* PURGE: purges the work and failed queues and the holding queues this process
  declared; delayed jobs another process pushed still arrive when due.
* STATS, INSTANCES: shared through the broker (stats.py).
* CROSS_PROCESS, WAKE: a wake queue per waiting process (wake.py).
* Not RENEW: a reservation lasts while the connection lives, bounded by
  RabbitMQ's ``consumer_timeout`` (``validate`` warns about longer job timeouts).
* Not UNIQUE: RabbitMQ has no atomic check-and-publish; pushing a unique job
  raises Unsupported rather than ignoring the key.
* Not DELETE: pending and delayed messages cannot be removed by id; ``delete``
  still removes a failed job (a scan), and raises Unsupported otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...errors import Unsupported
from ..base import (
    Capability,
    ConfigKey,
    DriverInfo,
    JobRecord,
    ListState,
    Outcome,
    PushItem,
    QueueCounts,
    Reserved,
    StatsDelta,
    WorkerCounts,
)
from ..bounds import check_items
from ..flow import Flow
from . import names
from .deliveries import Deliveries
from .failed import FailedStore
from .link import Link
from .publishing import Publisher
from .stats import Stats
from .topology import Topology
from .wake import Waker

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"
#: RabbitMQ's default consumer_timeout, in seconds (30 minutes).
CONSUMER_TIMEOUT = 1800.0
#: The manifest keys of an ``amqp`` driver.
CONFIG = (
    ConfigKey("url", "string", DEFAULT_URL),
    ConfigKey("exchange", "string", "runa"),
    ConfigKey("prefix", "string", "runa."),
    ConfigKey("consumer_timeout", "duration", CONSUMER_TIMEOUT),
)


class AMQPDriver:
    """Jobs in RabbitMQ through aio-pika's robust connection (reconnects by itself)."""

    type_name = "amqp"
    CAPABILITIES = frozenset({
        Capability.DELAY, Capability.FAILED_STORE, Capability.PURGE, Capability.STATS,
        Capability.INSTANCES, Capability.CROSS_PROCESS, Capability.WAKE,
        Capability.CONSUMER_TIMEOUT,
    })
    capabilities = CAPABILITIES

    def __init__(
        self, url: str = DEFAULT_URL, *, exchange: str = "runa", prefix: str = "runa.",
        consumer_timeout: float = CONSUMER_TIMEOUT,
    ) -> None:
        self.url, self.exchange, self.prefix = url, exchange, prefix
        self.consumer_timeout = consumer_timeout
        self._link = Link(url)
        self._topology = Topology(self._link, exchange, prefix)
        self._publisher = Publisher(self._link, self._topology)
        self._deliveries = Deliveries(self._link, self._publisher, consumer_timeout)
        self._failed = FailedStore(self._link, self._publisher)
        self._stats = Stats(self._link, prefix)
        self._waker = Waker(self._link, self._topology)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], base_dir: Path) -> AMQPDriver:
        """Build from manifest keys ``url``, ``exchange``, ``prefix``, ``consumer_timeout``."""
        kwargs: dict[str, Any] = {k: config[k] for k in ("exchange", "prefix") if k in config}
        if config.get("consumer_timeout") is not None:
            kwargs["consumer_timeout"] = float(config["consumer_timeout"])
        return cls(str(config.get("url") or DEFAULT_URL), **kwargs)

    def describe(self) -> DriverInfo:
        return DriverInfo(type="amqp", target=self._link.target,
                          extra={"exchange": self.exchange, "prefix": self.prefix})

    async def open(self) -> None:
        await self._link.open()

    async def close(self) -> None:
        await self._waker.close()
        await self._link.close()

    # ---- jobs -----------------------------------------------------------------------

    async def push(self, items: Sequence[PushItem]) -> list[str]:
        """Publish every item, confirms pipelined; returns once the broker has them all."""
        if any(item.envelope.unique is not None for item in items):
            raise Unsupported(self.type_name, "unique jobs")
        check_items("amqp", items)
        now = time.time()
        envs = [(i.envelope.evolve(enqueued_at=now, available_at=now + i.delay), i.delay)
                for i in items]
        for queue in {env.queue for env, _ in envs}:
            await self._topology.ensure(queue)
        await asyncio.gather(*(self._publisher.job(env, delay) for env, delay in envs))
        return [env.id for env, _ in envs]

    async def reserve(self, queue: str, count: int, lease: float,
                      flow: Flow | None = None) -> list[Reserved]:
        """Take up to ``count`` jobs; ``lease`` is not used (see Deliveries). A broker
        pushes deliveries to consumers, so no limit can be counted across them: a
        ``flow`` with limits is refused (``validate`` says so first)."""
        if flow:
            raise Unsupported(self.type_name, "max_running or rate (flow control)")
        return await self._deliveries.reserve(queue, count)

    async def renew(self, queue: str, job_id: str, token: str, lease: float) -> bool:
        raise Unsupported(self.type_name, "renew")

    async def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        return await self._deliveries.settle(outcomes)

    async def get(self, queue: str, job_id: str) -> JobRecord | None:
        """A job this process holds, or a failed job (a scan of the failed queue)."""
        for held in self._deliveries.held.values():
            if held.queue == queue and held.env.id == job_id:
                return JobRecord(held.env, "reserved")
        return await self._failed.find(queue, job_id)

    async def delete(self, queue: str, job_id: str) -> bool:
        if await self._failed.delete(queue, job_id):
            return True
        raise Unsupported(self.type_name, "delete of pending or delayed jobs")

    # ---- queues ---------------------------------------------------------------------

    async def counts(self, queue: str) -> QueueCounts:
        await self._topology.ensure(queue)
        pending = await self._topology.message_count(
            names.work_queue(self.prefix, queue), names.QUORUM)
        failed = await self._topology.message_count(
            names.failed_queue(self.prefix, queue), names.QUORUM)
        return QueueCounts(pending=pending, delayed=None, reserved=None, failed=failed)

    async def list_failed(self, queue: str, limit: int = 100, offset: int = 0) -> list[JobRecord]:
        return await self._failed.list(queue, limit, offset)

    async def list_jobs(
        self, queue: str, state: ListState, limit: int, after: str | None = None
    ) -> list[JobRecord]:
        raise Unsupported(self.type_name, "listing jobs (RabbitMQ cannot browse a queue)")

    async def oldest_due(self, queue: str) -> float | None:
        raise Unsupported(self.type_name, "the age of the oldest pending job")

    async def retry_failed(self, queue: str, job_ids: Sequence[str] | None) -> int:
        return await self._failed.retry(queue, job_ids)

    async def purge_failed(self, queue: str, older_than: float | None = None) -> int:
        return await self._failed.purge(queue, older_than)

    async def purge(self, queue: str) -> int:
        await self._topology.ensure(queue)
        targets = [names.work_queue(self.prefix, queue), names.failed_queue(self.prefix, queue),
                   *self._topology.holding_queues(queue)]
        total = 0
        with self._link.guard(f"purge of queue '{queue}'"):
            channel = await self._link.raw("publisher")
            for name in targets:
                ok = await channel.queue_purge(name)
                total += int(ok.message_count or 0)
        return total

    # ---- workers --------------------------------------------------------------------

    async def add_stats(self, worker: str, delta: StatsDelta) -> None:
        await self._stats.add(worker, delta)

    async def worker_counts(self, worker: str) -> WorkerCounts:
        return await self._stats.counts(worker)

    async def heartbeat(self, worker: str, instance: str, ttl: float) -> None:
        await self._stats.heartbeat(worker, instance, ttl)

    async def leave(self, worker: str, instance: str) -> None:
        await self._stats.leave(worker, instance)

    async def wait(self, queues: Sequence[str], timeout: float) -> None:
        await self._waker.wait(queues, timeout)
