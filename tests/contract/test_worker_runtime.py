"""The worker unit at work: concurrency, batch size, fairness, timeouts, stop, lease renewal."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Capability, Driver, Reserved
from runa_runner.errors import StopTimedOut

from .helpers import QUEUE, burst, eventually, reserve_one

needs = pytest.mark.needs


class RecordingDriver:
    """The real driver, with every ``reserve`` call's ``count`` written down."""

    def __init__(self, inner: Driver, on_reserve: Callable[[int], None]) -> None:
        self._inner = inner
        self._on_reserve = on_reserve
        self.type_name = inner.type_name
        self.capabilities = inner.capabilities

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def reserve(self, queue: str, count: int, lease: float) -> list[Reserved]:
        self._on_reserve(count)
        return await self._inner.reserve(queue, count, lease)


class InFlight:
    """Counts handlers running right now, and the most ever seen at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.done = 0

    async def run(self, seconds: float) -> None:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.now -= 1
            self.done += 1


async def test_never_more_than_concurrency_handlers(
    make_registry: Callable[..., rr.Registry],
) -> None:
    flight = InFlight()

    async def handle(job: rr.Job[Any]) -> None:
        await flight.run(0.02)

    reg = make_registry(jobs={"j": handle}, workers={"w": {"concurrency": 3}})
    await reg.push_many("j", [{} for _ in range(15)])
    unit = await burst(reg)
    assert flight.done == 15
    assert flight.most == 3
    assert unit.counts.succeeded == 15


async def test_reserves_only_free_slots(
    make_registry: Callable[..., rr.Registry], make_driver: Callable[[], Driver],
) -> None:
    flight = InFlight()
    asked: list[tuple[int, int]] = []  # (count asked, handlers running at that moment)

    async def handle(job: rr.Job[Any]) -> None:
        await flight.run(0.03)

    driver = RecordingDriver(make_driver(), lambda n: asked.append((n, flight.now)))
    reg = make_registry(jobs={"j": handle}, workers={"w": {"concurrency": 4}},
                        driver=driver)
    await reg.push_many("j", [{} for _ in range(10)])
    await burst(reg)
    assert flight.done == 10
    assert asked[0][0] == 4  # all slots free: one call for all of them
    for count, running in asked:
        # A slot is busy from reservation until settled, so at most 4 - running are free.
        assert 1 <= count <= 4 - running


async def test_round_robin_across_queues(make_registry: Callable[..., rr.Registry]) -> None:
    order: list[str] = []

    async def handle(job: rr.Job[Any]) -> None:
        order.append(job.queue)

    reg = make_registry(jobs={"j": handle}, queues={"qa": {}, "qb": {}})
    for _ in range(10):
        await reg.push("j", {}, queue="qa")
    for _ in range(10):
        await reg.push("j", {}, queue="qb")
    await burst(reg)
    assert sorted(order) == ["qa"] * 10 + ["qb"] * 10
    first = order[:8]
    assert first.count("qa") >= 3 and first.count("qb") >= 3, order


# ---- timeouts ---------------------------------------------------------------------------------


async def test_timeout_cancels_an_async_handler_and_counts_failed(
    make_registry: Callable[..., rr.Registry],
) -> None:
    seen: list[str] = []

    async def handle(job: rr.Job[Any]) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    reg = make_registry(jobs={"j": handle})
    job_id = await reg.push("j", {}, timeout=0.1)
    unit = await burst(reg)
    assert seen == ["cancelled"]
    assert (unit.counts.failed, unit.counts.succeeded, unit.counts.retried) == (1, 0, 0)
    driver = await reg.queue_driver(QUEUE)
    if {Capability.LIST, Capability.FAILED_STORE} <= driver.capabilities:
        info = await reg.job_info(job_id)
        assert info is not None and info.state == "failed"


async def test_timeout_sets_cancelled_for_a_sync_handler(
    make_registry: Callable[..., rr.Registry],
) -> None:
    seen: list[bool] = []

    def handle(job: rr.Job[Any]) -> None:
        # A thread cannot be killed; it is told, and returns on its own.
        seen.append(job.cancelled.wait(10))

    reg = make_registry(jobs={"j": handle})
    await reg.push("j", {}, timeout=0.1)
    unit = await burst(reg)
    assert seen == [True]
    assert (unit.counts.failed, unit.counts.succeeded) == (1, 0)  # returned late: still failed


@needs(Capability.DELAY)
async def test_timed_out_run_is_retried_when_retries_remain(
    make_registry: Callable[..., rr.Registry],
) -> None:
    attempts: list[int] = []

    async def handle(job: rr.Job[Any]) -> None:
        attempts.append(job.attempt)
        if job.attempt == 1:
            await asyncio.sleep(30)

    reg = make_registry(jobs={"j": (handle, {"timeout": 0.1})},
                        queues={QUEUE: {"retry": 1, "retry_delay": 0.05}})
    await reg.push("j", {})
    first = await burst(reg)
    assert (first.counts.retried, attempts) == (1, [1])
    await eventually(lambda: _burst_ran(reg, attempts, 2), what="second attempt")
    assert attempts == [1, 2]


async def _burst_ran(reg: rr.Registry, attempts: Sequence[int], n: int) -> bool:
    await burst(reg)
    return len(attempts) >= n


# ---- stop ------------------------------------------------------------------------------------


async def start_unit(reg: rr.Registry, started: asyncio.Event) -> tuple[Any, asyncio.Task[None]]:
    unit = rr.Unit(reg, "w")
    task = asyncio.create_task(unit.run())
    await asyncio.wait_for(started.wait(), 10)
    return unit, task


async def test_stop_waits_for_jobs_that_finish_within_stop_timeout(
    make_registry: Callable[..., rr.Registry],
) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def handle(job: rr.Job[Any]) -> None:
        started.set()
        await asyncio.sleep(0.2)
        finished.append(job.id)

    reg = make_registry(jobs={"j": handle}, workers={"w": {"stop_timeout": 10}})
    job_id = await reg.push("j", {})
    unit, task = await start_unit(reg, started)
    await asyncio.wait_for(unit.stop(), 10)
    await asyncio.wait_for(task, 10)  # returns normally
    assert finished == [job_id]
    assert (unit.counts.succeeded, unit.counts.processed) == (1, 1)
    assert await (await reg.queue_driver(QUEUE)).reserve(QUEUE, 1, 30.0) == []


async def test_stop_past_stop_timeout_releases_the_job_with_its_attempt_given_back(
    make_registry: Callable[..., rr.Registry],
) -> None:
    started = asyncio.Event()
    cancelled: list[str] = []

    async def handle(job: rr.Job[Any]) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(job.id)
            raise

    reg = make_registry(jobs={"j": handle}, queues={QUEUE: {"retry": 2}},
                        workers={"w": {"stop_timeout": 0.2}})
    job_id = await reg.push("j", {})
    unit, task = await start_unit(reg, started)
    stopping = asyncio.create_task(unit.stop())
    with pytest.raises(StopTimedOut):
        await asyncio.wait_for(task, 10)
    await asyncio.wait_for(stopping, 10)
    assert cancelled == [job_id]
    assert (unit.counts.failed, unit.counts.retried, unit.counts.processed) == (0, 0, 0)
    r = await reserve_one(await reg.queue_driver(QUEUE))  # back at once, not delayed
    assert (r.envelope.id, r.envelope.attempt) == (job_id, 1)


async def test_stop_now_releases_at_once(make_registry: Callable[..., rr.Registry]) -> None:
    started = asyncio.Event()

    async def handle(job: rr.Job[Any]) -> None:
        started.set()
        await asyncio.sleep(30)

    reg = make_registry(jobs={"j": handle}, workers={"w": {"stop_timeout": 30}})
    job_id = await reg.push("j", {})
    unit, task = await start_unit(reg, started)
    unit.stop_now()
    with pytest.raises(StopTimedOut):
        await asyncio.wait_for(task, 5)  # far less than stop_timeout
    assert unit.counts.processed == 0
    r = await reserve_one(await reg.queue_driver(QUEUE))
    assert (r.envelope.id, r.envelope.attempt) == (job_id, 1)


async def test_idle_unit_stops_cleanly(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": lambda job: None})
    unit = rr.Unit(reg, "w")
    task = asyncio.create_task(unit.run())
    await asyncio.sleep(0.05)  # let it reach its idle wait
    await asyncio.wait_for(unit.stop(), 10)
    await asyncio.wait_for(task, 10)


async def test_a_running_unit_picks_up_new_jobs(
    make_registry: Callable[..., rr.Registry],
) -> None:
    done = asyncio.Event()

    async def handle(job: rr.Job[Any]) -> None:
        done.set()

    reg = make_registry(jobs={"j": handle})
    unit = rr.Unit(reg, "w")
    task = asyncio.create_task(unit.run())
    await reg.push("j", {})
    await asyncio.wait_for(done.wait(), 10)
    await unit.stop()
    await task
    assert unit.counts.succeeded == 1


# ---- lease renewal -------------------------------------------------------------------------


@needs(Capability.RENEW)
async def test_long_job_survives_a_short_lease_through_renewals(
    make_registry: Callable[..., rr.Registry],
) -> None:
    runs: list[int] = []

    async def handle(job: rr.Job[Any]) -> None:
        runs.append(job.attempt)
        await asyncio.sleep(1.0)  # two and a half leases long

    # Two slots: were the lease not renewed, the same unit would reserve the job again.
    reg = make_registry(jobs={"j": handle}, queues={QUEUE: {"retry": 3}},
                        workers={"w": {"concurrency": 2, "lease": 0.4}})
    await reg.push("j", {})
    unit = await burst(reg)
    assert runs == [1]
    assert (unit.counts.succeeded, unit.counts.processed) == (1, 1)


@needs(Capability.RENEW)
async def test_long_sync_job_survives_a_short_lease(
    make_registry: Callable[..., rr.Registry],
) -> None:
    runs: list[str] = []

    def handle(job: rr.Job[Any]) -> None:
        runs.append(threading.current_thread().name)
        assert not job.cancelled.wait(1.0)

    reg = make_registry(jobs={"j": handle}, queues={QUEUE: {"retry": 3}},
                        workers={"w": {"concurrency": 2, "lease": 0.4}})
    await reg.push("j", {})
    unit = await burst(reg)
    assert len(runs) == 1
    assert unit.counts.succeeded == 1


@needs(Capability.RENEW, Capability.PURGE)
async def test_run_whose_lease_is_lost_is_cancelled_and_not_counted(
    make_registry: Callable[..., rr.Registry],
) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handle(job: rr.Job[Any]) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    reg = make_registry(jobs={"j": handle}, workers={"w": {"lease": 0.2, "stop_timeout": 5}})
    await reg.push("j", {})
    unit, task = await start_unit(reg, started)
    assert await reg.purge(QUEUE) == 1  # the job (and so its lease) is gone under the worker
    await asyncio.wait_for(cancelled.wait(), 5)  # the next renewal finds out and cancels
    await unit.stop()
    await asyncio.wait_for(task, 5)
    assert unit.counts.processed == 0
