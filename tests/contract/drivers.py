"""The contract suite's driver table: one entry per driver type.

A new driver joins the whole contract suite with one :class:`Entry` here: how to build
an instance over a test's namespace, the service it needs, and how to drop what a test
left on the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runa_runner.drivers.base import Driver

if TYPE_CHECKING:
    from .helpers import Namespace


@dataclass(frozen=True)
class Entry:
    """How the contract suite runs one driver type."""

    name: str
    #: the module exporting the driver class
    module: str
    cls: str
    build: Callable[[Namespace], Driver]
    #: the service ``require_service`` checks first (None: in-process or a local file)
    service: str | None = None
    #: the test's key/queue prefix from its unique id
    prefix: Callable[[str], str] = lambda uid: f"t{uid[:8]}."
    #: removes what the test left on the server (after queues are purged)
    drop: Callable[[Namespace], Awaitable[None]] | None = None


def _sqlite(ns: Namespace) -> Driver:
    ns.tmp_path.mkdir(parents=True, exist_ok=True)
    drv: Driver = ns.driver_class(str(ns.tmp_path / "queue.db"))
    return drv


def _redis(ns: Namespace) -> Driver:
    drv: Driver = ns.driver_class(ns.redis_url, prefix=ns.prefix)
    return drv


def _amqp(ns: Namespace) -> Driver:
    drv: Driver = ns.driver_class(ns.amqp_url, prefix=ns.prefix, exchange=ns.exchange)
    return drv


def _postgres(ns: Namespace) -> Driver:
    drv: Driver = ns.driver_class(ns.postgres_url, schema=ns.schema)
    return drv


def _memory(ns: Namespace) -> Driver:
    drv: Driver = ns.driver_class()
    return drv


async def _drop_redis_keys(ns: Namespace) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(ns.redis_url)
    try:
        # Keys embed the prefix inside a hash tag ("{t:...:q}:ready"), so match anywhere.
        keys = [k async for k in client.scan_iter(match=f"*{ns.prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def _drop_amqp_queues(ns: Namespace) -> None:
    # Deleting a queue that does not exist is not an error in RabbitMQ, so one channel
    # does it all. Retried: another test may force-close connections meanwhile.
    import aio_pika

    from .helpers import amqp_names

    for attempt in range(3):
        try:
            conn = await aio_pika.connect(ns.amqp_url)
            try:
                channel = await conn.channel()
                for name in amqp_names(ns.prefix):
                    await channel.queue_delete(name)
                await channel.exchange_delete(ns.exchange)
            finally:
                await conn.close()
                # aio-pika runs close callbacks as tasks: let them finish before the
                # test's event loop closes, or they are destroyed pending.
                await asyncio.sleep(0.01)
            return
        except Exception:
            if attempt == 2:
                raise
            await asyncio.sleep(0.2)


async def _drop_postgres_schema(ns: Namespace) -> None:
    import psycopg
    from psycopg import sql

    async with await psycopg.AsyncConnection.connect(ns.postgres_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(ns.schema)))


TABLE: dict[str, Entry] = {e.name: e for e in (
    Entry("memory", "runa_runner.drivers.memory", "MemoryDriver", _memory),
    Entry("sqlite", "runa_runner.drivers.sqlite", "SQLiteDriver", _sqlite),
    Entry("redis", "runa_runner.drivers.redis", "RedisDriver", _redis, service="redis",
          prefix=lambda uid: f"t:{uid}:", drop=_drop_redis_keys),
    Entry("amqp", "runa_runner.drivers.amqp", "AMQPDriver", _amqp, service="amqp",
          drop=_drop_amqp_queues),
    Entry("postgres", "runa_runner.drivers.postgres", "PostgresDriver", _postgres,
          service="postgres", drop=_drop_postgres_schema),
)}


def entry(name: str) -> Entry:
    return TABLE[name]


__all__ = ["TABLE", "Entry", "entry"]

