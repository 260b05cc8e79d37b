"""The worker unit when things break: a side task that dies, a driver that is down at start
or mid-run, a sync handler thread that never returns in a burst, runs that lose their lease.

Faults are injected by wrapping the real driver (every call not overridden goes to it), so
the jobs really live on each driver; only the failing call is made to fail.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import LEASE_LOST, Capability, Driver, StatsDelta
from runa_runner.errors import DriverUnavailable, StopTimedOut, WorkerFailed

from .helpers import DRIVER, QUEUE, reserve_one

needs = pytest.mark.needs
LOGGER = "runa_runner.worker"


class Faulty:
    """The real driver, with chosen calls made to fail while a fault is armed."""

    def __init__(self, inner: Driver) -> None:
        self._inner = inner
        self.type_name = inner.type_name
        self.capabilities = inner.capabilities
        #: call name -> exception raised while armed
        self.faults: dict[str, BaseException] = {}
        #: call name -> times it failed
        self.failed: dict[str, int] = {}
        #: renewals swallowed (reported held without reaching the driver): a stalled worker
        self.stall_renew = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _check(self, call: str) -> None:
        exc = self.faults.get(call)
        if exc is not None:
            self.failed[call] = self.failed.get(call, 0) + 1
            raise exc

    async def open(self) -> None:
        self._check("open")
        await self._inner.open()

    async def reserve(self, queue: str, count: int, lease: float) -> Any:
        self._check("reserve")
        return await self._inner.reserve(queue, count, lease)

    async def renew(self, queue: str, job_id: str, token: str, lease: float) -> bool:
        self._check("renew")
        if self.stall_renew:
            return True
        return await self._inner.renew(queue, job_id, token, lease)

    async def add_stats(self, worker: str, delta: StatsDelta) -> None:
        self._check("add_stats")
        await self._inner.add_stats(worker, delta)

    async def settle(self, outcomes: Any) -> list[bool]:
        self._check("settle")
        return await self._inner.settle(outcomes)

    async def heartbeat(self, worker: str, instance: str, ttl: float) -> None:
        self._check("heartbeat")
        await self._inner.heartbeat(worker, instance, ttl)

    async def wait(self, queues: Any, timeout: float) -> None:
        self._check("wait")
        await self._inner.wait(queues, timeout)

    def server_down(self, exc: BaseException) -> None:
        """Every call a worker makes fails, as when its server is gone (pushes still work)."""
        for call in ("reserve", "renew", "settle", "add_stats", "heartbeat", "wait"):
            self.faults[call] = exc


@pytest.fixture
def faulty(make_driver: Callable[[], Driver]) -> Faulty:
    return Faulty(make_driver())


@pytest.fixture
def worker_log(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """The worker's log lines (DEBUG and up, as ``work --verbose`` shows them)."""
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == LOGGER]

    yield lines


def target(driver: Driver) -> str:
    info = driver.describe()
    if not info.target or info.target.startswith(f"{info.type}:"):
        return info.target or info.type
    return f"{info.type}:{info.target}"


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Yield to the loop until ``condition()``; fail after ``timeout`` seconds."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout:g}s waiting for {what}")


# ---- finding 11: supervised side tasks ------------------------------------------------------


async def run_until_side_task_dies(
    reg: rr.Registry, started: asyncio.Event
) -> tuple[rr.Unit, BaseException]:
    unit = rr.Unit(reg, "w")
    task = asyncio.create_task(unit.run())
    await asyncio.wait_for(started.wait(), 15)
    with pytest.raises(WorkerFailed) as info:
        await asyncio.wait_for(task, 15)
    return unit, info.value


async def test_a_side_task_that_dies_stops_the_unit_and_releases_running_jobs(
    make_registry: Callable[..., rr.Registry], faulty: Faulty,
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = asyncio.Event()
    cancelled: list[str] = []

    async def slow(job: rr.Job[Any]) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(job.id)
            raise

    async def quick(job: rr.Job[Any]) -> None:
        await started.wait()

    # The settler writes the counts right after settling `quick`: that call breaks.
    faulty.faults["add_stats"] = RuntimeError("stats store broke")
    reg = make_registry(jobs={"slow": slow, "quick": quick}, driver=faulty,
                        workers={"w": {"concurrency": 2, "stop_timeout": 30}})
    slow_id = await reg.push("slow", {})
    await reg.push("quick", {})
    unit, exc = await run_until_side_task_dies(reg, started)

    assert str(exc) == ("worker 'w': side task 'settler' died unexpectedly (RuntimeError: "
                        "stats store broke); its running jobs were released")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "worker w: side task 'settler' died unexpectedly (RuntimeError: stats store broke); "
        "stopping the worker"]
    assert errors[0].exc_info is not None and errors[0].exc_info[0] is RuntimeError
    # Stopped at once, not after stop_timeout (30s): the slow job was released, attempt back.
    assert cancelled == [slow_id]
    assert (unit.counts.succeeded, unit.counts.failed, unit.counts.retried) == (1, 0, 0)
    faulty.faults.clear()
    r = await reserve_one(await reg.queue_driver(QUEUE))
    assert (r.envelope.id, r.envelope.attempt) == (slow_id, 1)


@needs(Capability.RENEW)
async def test_a_dead_renew_loop_stops_the_unit_instead_of_letting_leases_lapse(
    make_registry: Callable[..., rr.Registry], faulty: Faulty,
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = asyncio.Event()

    async def slow(job: rr.Job[Any]) -> None:
        started.set()
        await asyncio.sleep(60)

    faulty.faults["renew"] = KeyError("token")
    reg = make_registry(jobs={"slow": slow}, driver=faulty,
                        workers={"w": {"lease": 0.4, "stop_timeout": 30}})
    job_id = await reg.push("slow", {})
    unit, exc = await run_until_side_task_dies(reg, started)

    assert "side task 'renew' died unexpectedly (KeyError: 'token')" in str(exc)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "worker w: side task 'renew' died unexpectedly (KeyError: 'token'); stopping the worker"]
    assert unit.counts.processed == 0
    faulty.faults.clear()
    r = await reserve_one(await reg.queue_driver(QUEUE))
    assert (r.envelope.id, r.envelope.attempt) == (job_id, 1)


async def test_driver_errors_in_side_tasks_are_outages_not_deaths(
    make_registry: Callable[..., rr.Registry], faulty: Faulty,
    worker_log: Callable[[], list[str]],
) -> None:
    done = asyncio.Event()

    async def handle(job: rr.Job[Any]) -> None:
        done.set()

    faulty.faults["add_stats"] = DriverUnavailable("stats server gone")
    reg = make_registry(jobs={"j": handle}, driver=faulty)
    await reg.push("j", {})
    unit = rr.Unit(reg, "w")
    task = asyncio.create_task(unit.run())
    await asyncio.wait_for(done.wait(), 15)
    await wait_until(lambda: faulty.failed.get("add_stats", 0) >= 1, "a failed stats write")
    faulty.faults.clear()
    label = f"driver '{DRIVER}' ({target(faulty)})"
    await wait_until(lambda: any(line.endswith(" available again") for line in worker_log()),
                     "the stats write to succeed again")
    logged = worker_log()  # before the stop: a loaded real broker may hiccup later on
    await unit.stop()
    await asyncio.wait_for(task, 15)  # no WorkerFailed
    assert [line for line in logged if label in line] == [
        f"worker w: {label} unavailable, retrying with backoff: stats server gone",
        f"worker w: {label} available again",
    ]
    assert (await faulty.worker_counts("w")).succeeded == 1  # written once it came back


# ---- finding 12: a driver down at start, and outages mid-run ---------------------------------


async def test_a_unit_waits_for_a_driver_that_is_down_at_start(
    make_registry: Callable[..., rr.Registry], faulty: Faulty,
    worker_log: Callable[[], list[str]],
) -> None:
    done = asyncio.Event()

    async def handle(job: rr.Job[Any]) -> None:
        done.set()

    reg = make_registry(jobs={"j": handle}, driver=faulty)
    await reg.push("j", {})
    await reg.close()  # so that the unit opens the driver itself, on its loop
    faulty.faults["open"] = DriverUnavailable("connection refused")
    unit = rr.Unit(reg, "w")
    task = asyncio.create_task(unit.run())
    await wait_until(lambda: faulty.failed.get("open", 0) >= 3, "three connection attempts")
    assert not done.is_set()
    faulty.faults.clear()
    await asyncio.wait_for(done.wait(), 15)
    # Read before the stop: on a loaded machine a real broker may hiccup later on.
    logged = worker_log()
    await unit.stop()
    await asyncio.wait_for(task, 15)
    label = f"driver '{DRIVER}' ({target(faulty)})"
    assert [line for line in logged if label in line] == [
        f"worker w: {label} unavailable, retrying with backoff: connection refused",
        f"worker w: {label} available",
    ]


async def test_a_stop_while_waiting_for_the_driver_returns_without_starting(
    make_registry: Callable[..., rr.Registry], faulty: Faulty,
) -> None:
    reg = make_registry(jobs={"j": lambda job: None}, driver=faulty)
    faulty.faults["open"] = DriverUnavailable("connection refused")
    unit = rr.Unit(reg, "w")
    task = asyncio.create_task(unit.run())
    await wait_until(lambda: faulty.failed.get("open", 0) >= 1, "a connection attempt")
    await asyncio.wait_for(unit.stop(), 5)
    await asyncio.wait_for(task, 5)  # returns normally: nothing ran, nothing to release
    assert unit.counts.processed == 0


async def test_an_outage_mid_run_logs_one_line_down_and_one_up(
    make_registry: Callable[..., rr.Registry], faulty: Faulty,
    worker_log: Callable[[], list[str]],
) -> None:
    ran: list[str] = []
    first = asyncio.Event()

    async def handle(job: rr.Job[Any]) -> None:
        ran.append(job.id)
        first.set()

    reg = make_registry(jobs={"j": handle}, driver=faulty)
    unit = rr.Unit(reg, "w")
    task = asyncio.create_task(unit.run())
    await reg.push("j", {})
    await asyncio.wait_for(first.wait(), 15)
    faulty.server_down(DriverUnavailable("server closed the connection"))
    await wait_until(lambda: faulty.failed.get("reserve", 0) >= 3, "three failed reserves")
    second = await reg.push("j", {})  # the test's own pushes still get through
    faulty.faults.clear()
    await wait_until(lambda: second in ran, "the job pushed during the outage to run")
    logged = worker_log()  # before the stop: a loaded real broker may hiccup later on
    await unit.stop()
    await asyncio.wait_for(task, 15)
    label = f"driver '{DRIVER}' ({target(faulty)})"
    # Even at DEBUG (work --verbose): no line per failed call.
    assert [line for line in logged if "unavailable" in line or "available" in line
            or "failing" in line] == [
        f"worker w: {label} unavailable, retrying with backoff: server closed the connection",
        f"worker w: {label} available again",
    ]


# ---- finding 14: a burst and a sync handler thread that never returns -------------------------


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Set at teardown, so a stuck handler thread ends with the test."""
    event = threading.Event()
    yield event
    event.set()


async def test_a_burst_waits_for_a_stuck_sync_thread_at_most_stop_timeout(
    make_registry: Callable[..., rr.Registry], gate: threading.Event,
) -> None:
    def stuck(job: rr.Job[Any]) -> None:
        gate.wait()  # ignores job.cancelled: a thread cannot be made to stop

    reg = make_registry(jobs={"j": (stuck, {"timeout": 0.1, "retry": 0})},
                        workers={"w": {"concurrency": 1, "stop_timeout": 0.5}})
    job_id = await reg.push("j", {})
    pending = await reg.push("j", {})  # the stuck thread holds the only slot
    unit = rr.Unit(reg, "w")
    with pytest.raises(StopTimedOut) as info:
        await asyncio.wait_for(unit.run(burst=True), 15)
    assert str(info.value) == (
        "worker 'w': stop_timeout (0.5s) elapsed waiting for 1 sync handler thread(s) still "
        "running past their timeout; they were abandoned (their runs were already settled)")
    assert unit.abandoned == 1
    assert (unit.counts.failed, unit.counts.processed) == (1, 1)  # the timed-out run
    r = await reserve_one(await reg.queue_driver(QUEUE))
    assert (r.envelope.id, r.envelope.attempt) == (pending, 1)  # never started
    assert r.envelope.id != job_id


# ---- finding 20: lease-lost final failures are counted -----------------------------------------


async def lapse_to_failed(other: Driver, job_id: str) -> None:
    """Play another worker: its reserve recovers the lapsed lease, the job goes to failed."""
    async def failed() -> bool:
        assert await other.reserve(QUEUE, 1, 30.0) == []
        record = await other.get(QUEUE, job_id)
        return record is not None and record.state == "failed"

    async def poll() -> None:
        while not await failed():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), 15)
    record = await other.get(QUEUE, job_id)
    assert record is not None and record.error == LEASE_LOST


@needs(Capability.RENEW, Capability.LIST)
@pytest.mark.parametrize("ends", ["handler returns", "renewal finds it lost"])
async def test_a_last_attempt_that_lost_its_lease_counts_as_failed(
    make_registry: Callable[..., rr.Registry], faulty: Faulty, ends: str,
) -> None:
    started = asyncio.Event()
    finish = asyncio.Event()
    cancelled = asyncio.Event()

    async def handle(job: rr.Job[Any]) -> None:
        started.set()
        try:
            await finish.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    reg = make_registry(jobs={"j": (handle, {"retry": 0})}, driver=faulty,
                        workers={"w": {"lease": 0.3, "stop_timeout": 10}})
    job_id = await reg.push("j", {})
    faulty.stall_renew = True  # this worker stalls: its lease lapses while the run goes on
    unit = rr.Unit(reg, "w")
    task = asyncio.create_task(unit.run())
    await asyncio.wait_for(started.wait(), 15)
    await lapse_to_failed(faulty, job_id)
    if ends == "handler returns":
        finish.set()  # its ack is refused: the token no longer holds
    else:
        faulty.stall_renew = False  # the next renewal finds the lease lost and cancels
        await asyncio.wait_for(cancelled.wait(), 15)
    await wait_until(lambda: unit.counts.processed == 1, "the lost run to be counted")
    await unit.stop()
    await asyncio.wait_for(task, 15)
    c = unit.counts
    assert (c.processed, c.succeeded, c.failed, c.retried) == (1, 0, 1, 0)
    stored = await faulty.worker_counts("w")
    assert (stored.processed, stored.failed) == (1, 1)
