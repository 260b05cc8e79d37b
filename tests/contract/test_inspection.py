"""Counts, the failed store and its operations, delete, purge, stats and instances."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Capability, Driver, Outcome, StatsDelta

from .helpers import QUEUE, WORKER, eventually, reserve_one

needs = pytest.mark.needs


async def anything(job: rr.Job[Any]) -> None:
    return None


async def push_and_fail(reg: rr.Registry, payload: Any, error: str = "boom") -> str:
    """Push a job, reserve it and settle it as failed (what a worker does on a final failure)."""
    job_id = await reg.push("j", payload)
    driver = await reg.queue_driver(QUEUE)
    r = await reserve_one(driver)
    assert r.envelope.id == job_id
    outcome = Outcome(QUEUE, job_id, r.token, "fail", error=error, traceback=f"TB {error}")
    assert await driver.settle([outcome]) == [True]
    return job_id


@needs(Capability.COUNT, Capability.DELAY, Capability.FAILED_STORE)
async def test_queue_info_counts_every_state(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    await push_and_fail(reg, "failed")
    for n in range(3):
        await reg.push("j", n)
    await reg.push("j", "later", delay=60)
    await reserve_one(await reg.queue_driver(QUEUE))
    [info] = await reg.queue_info()
    assert (info.name, info.driver, info.workers) == (QUEUE, "d", [WORKER])
    assert (info.pending, info.delayed, info.reserved, info.failed) == (2, 1, 1, 1)


@needs(Capability.LIST, Capability.FAILED_STORE)
async def test_job_info_of_a_failed_job(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    job_id = await push_and_fail(reg, {"k": "v"}, "ValueError: nope")
    info = await reg.job_info(job_id)
    assert info is not None
    assert (info.id, info.queue, info.job, info.state) == (job_id, QUEUE, "j", "failed")
    assert (info.attempts, info.max_attempts) == (1, 1)
    assert info.error == "ValueError: nope"
    assert info.traceback == "TB ValueError: nope"
    assert info.payload == {"k": "v"}
    assert set(info.to_dict()) == {"id", "queue", "job", "state", "attempts", "max_attempts",
                                   "payload", "meta", "error", "enqueued_at", "available_at"}
    assert await reg.job_info("0" * 26) is None


@needs(Capability.LIST, Capability.FAILED_STORE)
async def test_failed_list_oldest_first(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    ids = [await push_and_fail(reg, n, f"e{n}") for n in range(3)]
    listed = await reg.failed(QUEUE)
    assert [f.id for f in listed] == ids
    assert [f.error for f in listed] == ["e0", "e1", "e2"]
    assert [f.id for f in await reg.failed(QUEUE, limit=1, offset=1)] == ids[1:2]


@needs(Capability.FAILED_STORE)
async def test_retry_failed_puts_jobs_back_with_attempts_reset(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    a = await push_and_fail(reg, "a")
    b = await push_and_fail(reg, "b")
    assert await reg.retry_failed(QUEUE, [b]) == 1
    r = await reserve_one(await reg.queue_driver(QUEUE))
    assert (r.envelope.id, r.envelope.attempt) == (b, 1)
    assert await reg.retry_failed(QUEUE) == 1  # all that remain: a
    r = await reserve_one(await reg.queue_driver(QUEUE))
    assert r.envelope.id == a
    assert await reg.retry_failed(QUEUE) == 0


@needs(Capability.FAILED_STORE)
async def test_purge_failed_older_than(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    old = await push_and_fail(reg, "old")
    await asyncio.sleep(0.05)  # separate the two failure times on the driver's clock
    cut = time.time()
    await asyncio.sleep(0.05)
    new = await push_and_fail(reg, "new")
    assert await reg.purge_failed(QUEUE, older_than=cut) == 1
    if Capability.LIST in (await reg.queue_driver(QUEUE)).capabilities:
        assert [f.id for f in await reg.failed(QUEUE)] == [new]
        assert await reg.job_info(old) is None
    assert await reg.purge_failed(QUEUE) == 1  # only the newer one was left
    assert await reg.retry_failed(QUEUE) == 0


@needs(Capability.DELETE)
async def test_delete_pending_delayed_and_failed_jobs(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    caps = (await reg.queue_driver(QUEUE)).capabilities
    pending = await reg.push("j", "p")
    assert await reg.delete(QUEUE, pending) is True
    assert await reg.delete(QUEUE, pending) is False
    if Capability.DELAY in caps:
        delayed = await reg.push("j", "d", delay=60)
        assert await reg.delete(QUEUE, delayed) is True
    if Capability.FAILED_STORE in caps:
        failed = await push_and_fail(reg, "f")
        assert await reg.delete(QUEUE, failed) is True
    assert await reg.delete(QUEUE, "0" * 26) is False
    assert await (await reg.queue_driver(QUEUE)).reserve(QUEUE, 10, 30.0) == []


@needs(Capability.PURGE, Capability.COUNT)
async def test_purge_empties_the_queue(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    for n in range(3):
        await reg.push("j", n)
    assert await reg.purge(QUEUE) == 3
    [info] = await reg.queue_info()
    assert (info.pending, info.delayed, info.reserved, info.failed) == (0, 0, 0, 0)
    assert await (await reg.queue_driver(QUEUE)).reserve(QUEUE, 10, 30.0) == []


@needs(Capability.PURGE, Capability.COUNT, Capability.DELAY, Capability.FAILED_STORE)
async def test_purge_counts_every_state(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    await push_and_fail(reg, "f")
    await reg.push("j", "p")
    await reg.push("j", "d", delay=60)
    assert await reg.purge(QUEUE) == 3
    [info] = await reg.queue_info()
    assert (info.pending, info.delayed, info.reserved, info.failed) == (0, 0, 0, 0)


@needs(Capability.STATS)
async def test_worker_stats_add_up(driver: Driver) -> None:
    await driver.add_stats("w1", StatsDelta(succeeded=3, failed=1, retried=2))
    await driver.add_stats("w1", StatsDelta(succeeded=1))
    await driver.add_stats("w2", StatsDelta(failed=5))
    c = await driver.worker_counts("w1")
    assert (c.processed, c.succeeded, c.failed, c.retried) == (7, 4, 1, 2)
    c2 = await driver.worker_counts("w2")
    assert (c2.processed, c2.failed) == (5, 5)
    c3 = await driver.worker_counts("never")
    assert (c3.processed, c3.succeeded, c3.failed, c3.retried) == (0, 0, 0, 0)


@needs(Capability.INSTANCES)
async def test_instances_heartbeat_expire_and_leave(driver: Driver) -> None:
    await driver.heartbeat("w", "i1", 30.0)
    await driver.heartbeat("w", "i2", 30.0)
    await driver.heartbeat("w", "short", 0.5)
    assert (await driver.worker_counts("w")).instances == 3
    await driver.leave("w", "i1")
    assert (await driver.worker_counts("w")).instances == 2

    async def short_one_expired() -> bool:
        live = (await driver.worker_counts("w")).instances
        assert live in (1, 2)
        return live == 1

    await eventually(short_one_expired, what="the short heartbeat's expiry")
