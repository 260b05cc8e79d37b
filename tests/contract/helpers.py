"""Helpers for the contract tier: building drivers per namespace, cleaning up, waiting."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from runa_runner.drivers.base import Capability, Driver, PushItem, Reserved, UniqueUntil
from runa_runner.job import Envelope, new_id

from .drivers import entry

#: Names used by make_registry's defaults.
DRIVER = "d"
QUEUE = "q"
WORKER = "w"

#: Every queue name a test handed to a driver; AMQP queues cannot be listed, so
#: cleanup deletes these names under the test's prefix.
TOUCHED: set[str] = {QUEUE}
#: Worker names the tests use (their AMQP stats/instances queues are deleted after).
WORKERS = (WORKER, "w1", "w2", "never")

T = TypeVar("T")


@dataclass
class Namespace:
    """Where one test's data lives, for every driver type."""

    driver_name: str
    driver_class: Any
    tmp_path: Path
    redis_url: str
    amqp_url: str
    uid: str
    #: AMQP exchange; each test gets its own unless it shares one on purpose.
    exchange: str = ""
    postgres_url: str = ""

    def __post_init__(self) -> None:
        self.exchange = self.exchange or f"t{self.uid[:8]}"

    def sibling(self) -> Namespace:
        """Another namespace on the same servers (and AMQP exchange), with its own prefix."""
        return Namespace(self.driver_name, self.driver_class, self.tmp_path / "sibling",
                         self.redis_url, self.amqp_url, uuid.uuid4().hex, self.exchange,
                         self.postgres_url)

    @property
    def prefix(self) -> str:
        return entry(self.driver_name).prefix(self.uid)

    @property
    def schema(self) -> str:
        """The PostgreSQL schema of this namespace (dropped after the test)."""
        return f"runa_t_{self.uid[:12]}"

    def build(self) -> Driver:
        return entry(self.driver_name).build(self)


async def cleanup_namespace(ns: Namespace, made: Sequence[Driver]) -> None:
    """Purge what the test left and drop its Redis keys / AMQP queues; close its drivers."""
    caps = made[0].capabilities if made else frozenset()
    if Capability.CROSS_PROCESS in caps and Capability.PURGE in caps:
        drv = ns.build()
        with contextlib.suppress(Exception):
            await drv.open()
            for queue in sorted(TOUCHED):
                with contextlib.suppress(Exception):
                    await drv.purge(queue)
            await drv.close()
    for drv in made:
        with contextlib.suppress(Exception):
            await drv.close()
    drop = entry(ns.driver_name).drop
    if drop is not None:
        await drop(ns)


#: Delays the tests use, so their AMQP holding queues are deleted too (the others,
#: e.g. jittered backoff buckets, expire on their own once idle).
KNOWN_DELAYS = (0.01, 0.05, 0.2, 0.3, 0.4, 0.5, 1.0, 20.0, 60.0, 3600.0)


def amqp_names(prefix: str) -> list[str]:
    """RabbitMQ queues a test may have created (layout of runa_runner.drivers.amqp.names)."""
    try:
        from runa_runner.drivers.amqp import names
    except ImportError:
        return [prefix + q for q in sorted(TOUCHED)]
    out = []
    for q in sorted(TOUCHED):
        out += [names.work_queue(prefix, q), names.failed_queue(prefix, q)]
        out += [names.delay_queue(prefix, q, names.bucket_ms(d)) for d in KNOWN_DELAYS]
    for w in WORKERS:
        out += [names.stats_queue(prefix, w), names.workers_queue(prefix, w)]
    return out


def item(
    queue: str = QUEUE,
    job: str = "j",
    payload: Any = None,
    *,
    delay: float = 0.0,
    unique: str | None = None,
    unique_until: UniqueUntil = "done",
    unique_for: float | None = None,
    max_retries: int = 0,
    retry_delay: float = 0.05,
    **env: Any,
) -> PushItem:
    """A PushItem as the registry would build it (driver-level tests)."""
    TOUCHED.add(queue)
    envelope = Envelope(
        id=new_id(), queue=queue, job=job, payload=payload, max_retries=max_retries,
        retry_delay=retry_delay, unique=unique, **env,
    )
    return PushItem(envelope, delay, unique_until, unique_for)


async def eventually(
    probe: Callable[[], Awaitable[T]], *, timeout: float = 5.0, interval: float = 0.01,
    what: str = "condition",
) -> T:
    """Await ``probe()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)


async def reserve_one(
    driver: Driver, queue: str = QUEUE, lease: float = 30.0, timeout: float = 5.0
) -> Reserved:
    """Reserve one job, waiting (with a deadline) for one to become due."""

    async def probe() -> list[Reserved]:
        return await driver.reserve(queue, 1, lease)

    got = await eventually(probe, timeout=timeout, what=f"a reservable job on {queue!r}")
    assert len(got) == 1
    return got[0]


async def burst(registry: Any, worker: str = "w", timeout: float = 10.0) -> Any:
    """One ``Unit.run(burst=True)``; returns the unit (its ``counts`` are this run's)."""
    import runa_runner as rr

    unit = rr.Unit(registry, worker)
    await asyncio.wait_for(unit.run(burst=True), timeout)
    return unit


async def burst_until(
    registry: Any, done: Callable[[], bool], worker: str = "w", timeout: float = 10.0,
    what: str = "condition",
) -> tuple[int, int, int]:
    """Burst runs until ``done()``: retries wait out their delay between bursts.

    Returns the summed (succeeded, failed, retried) of all the units that ran.
    """
    deadline = time.monotonic() + timeout
    total = (0, 0, 0)
    while True:
        unit = await burst(registry, worker, timeout=max(deadline - time.monotonic(), 0.1))
        c = unit.counts
        total = (total[0] + c.succeeded, total[1] + c.failed, total[2] + c.retried)
        if done():
            return total
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s (counts {total})")
        await asyncio.sleep(0.01)
