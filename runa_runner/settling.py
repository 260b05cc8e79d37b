"""Batched settlement: outcomes of many jobs go to the driver in one call.

Each running job awaits its own outcome's future, so a job's slot is freed
only once the driver has recorded the outcome (at-least-once is kept: an
outcome that never reaches the driver means the lease lapses and the job runs again).
"""

from __future__ import annotations

import asyncio
import logging
import time

from .drivers.base import Capability, Driver, Outcome, StatsDelta
from .errors import DriverError
from .events import Counter, Observer
from .execution import Running
from .outage import Outage

log = logging.getLogger("runa_runner.worker")

#: One outcome on its way to the driver: where, what, who waits for it, and its run.
_Item = tuple[Driver, Outcome, "asyncio.Future[bool]", Running]

#: How often pending stat deltas are written to the stats driver (seconds).
STATS_EVERY = 1.0


class Settler:
    """Collects outcomes, settles them per driver in batches, and keeps stat deltas."""

    def __init__(
        self,
        stats_driver: Driver,
        worker: str,
        counter: Counter,
        events: Observer | None = None,
        outage: Outage | None = None,
    ) -> None:
        self._outage = outage or Outage(worker)
        self._stats_driver = stats_driver
        self._worker = worker
        #: the unit's counts; the settler writes what it has not written yet
        self._counter = counter
        #: told on_settled as each batch is recorded (the counter among them)
        self._events = events or counter
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._flushing: asyncio.Future[None] | None = None
        #: True while ``run`` batches outcomes; otherwise ``settle`` calls the driver itself.
        self._running = False

    async def settle(self, driver: Driver, outcome: Outcome, run: Running) -> bool:
        """Queue ``outcome`` for the next batch; True if the job's token still held.

        With no batching task running (it was stopped, or died), the outcome is settled
        at once, so a stop can still release its jobs.
        """
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        item = (driver, outcome, fut, run)
        if not self._running:
            await self._settle_batch([item])
        else:
            self._queue.put_nowait(item)
        return await fut

    def count(self, delta: StatsDelta) -> None:
        """Add counts that no settled outcome carries (written with the next stats flush)."""
        self._counter.add(delta)

    async def run(self) -> None:
        stats_task = asyncio.create_task(self._flush_stats_loop())
        self._running = True
        try:
            while True:
                batch = [await self._queue.get()]
                # One turn of the loop lets jobs finishing alongside join this batch.
                await asyncio.sleep(0)
                while not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                await self._settle_batch(batch)
                # Counted right after settling, not a second later: a worker killed now
                # loses the counts of one batch at most, not of its last second. Shielded:
                # a stop must not cancel a driver call half-way (close() awaits it).
                self._flushing = asyncio.ensure_future(self.flush_stats())
                await asyncio.shield(self._flushing)
        finally:
            self._running = False
            stats_task.cancel()

    async def _settle_batch(self, batch: list[_Item]) -> None:
        groups: dict[int, list[_Item]] = {}
        for item in batch:
            groups.setdefault(id(item[0]), []).append(item)
        for items in groups.values():
            driver = items[0][0]
            outcomes = [o for _, o, _, _ in items]
            held = await self._settle_with_retry(driver, outcomes)
            now = time.monotonic()
            for (_, outcome, fut, run), ok in zip(items, held, strict=True):
                # Told before the futures resolve: the counts are in the flush right after.
                self._events.on_settled(self._worker, run.reserved.envelope, outcome, ok,
                                        now - run.started)
                if not fut.done():
                    fut.set_result(ok)

    async def _settle_with_retry(self, driver: Driver, outcomes: list[Outcome]) -> list[bool]:
        delay = 0.1
        while True:
            began = time.monotonic()
            try:
                held = await driver.settle(outcomes)
            except DriverError as exc:
                self._outage.trouble(driver, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if any(held):
                # A settle whose every lease was already lost may never have reached the
                # server (AMQP drops a dead channel's deliveries locally): no sign that it
                # is back, and saying so would print a down/up/down flap mid-outage.
                self._outage.recovered(driver, began)
            return held

    async def _flush_stats_loop(self) -> None:
        while True:
            await asyncio.sleep(STATS_EVERY)
            await self.flush_stats()

    async def flush_stats(self) -> None:
        delta = self._counter.take()
        if not delta:
            return
        began = time.monotonic()
        try:
            await self._stats_driver.add_stats(self._worker, delta)
        except DriverError as exc:
            self._counter.give_back(delta)
            self._outage.trouble(self._stats_driver, exc)
            return
        self._outage.recovered(self._stats_driver, began)

    async def close(self) -> None:
        """Settle what is queued and write the last stat deltas."""
        if self._flushing is not None:
            await self._flushing
        batch = []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if batch:
            await self._settle_batch(batch)
        await self.flush_stats()


async def lease_lost_ends_failed(driver: Driver, r: Running) -> bool:
    """Whether a run whose lease was lost ends its job in failed ("lease lost"), an outcome
    the driver settles, not the worker: only on the last attempt, and (where the driver can
    look a job up) only if the job is still that run's to lose: failed, or still reserved
    with its attempt; not deleted, purged or retried by hand meanwhile."""
    env = r.reserved.envelope
    if env.attempt < env.max_attempts:
        return False
    if Capability.LIST not in driver.capabilities:
        return True  # a lapsed last attempt always goes to failed (driver contract)
    try:
        record = await driver.get(env.queue, env.id)
    except DriverError:
        return True  # cannot look now; the contract still sends it to failed
    return (record is not None and record.state in ("failed", "reserved")
            and record.envelope.attempt == env.attempt)
