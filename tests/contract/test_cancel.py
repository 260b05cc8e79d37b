"""Cancel (issue 18 point 2): a waiting job is deleted, a running one stops at its renew."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import CANCELLED, Capability, ResultStore

from .helpers import item, reserve_one

needs = pytest.mark.needs


async def _noop(job: rr.Job[Any]) -> None:
    return None


@needs(Capability.CANCEL, Capability.UNIQUE, Capability.LIST)
async def test_cancel_deletes_a_pending_job_and_its_lock(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": _noop})
    job_id = await reg.push("j", {}, unique="k")
    assert await reg.cancel(job_id) == "deleted"
    assert await reg.job_info(job_id) is None
    assert await reg.push("j", {}, unique="k") != job_id  # the lock went with it


@needs(Capability.CANCEL, Capability.DELAY, Capability.LIST)
async def test_cancel_deletes_a_delayed_job(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": _noop})
    job_id = await reg.push("j", {}, delay=3600)
    assert await reg.cancel(job_id) == "deleted"
    assert await reg.job_info(job_id) is None


@needs(Capability.CANCEL, Capability.LIST)
async def test_cancel_of_an_unknown_or_ended_job(
    make_registry: Callable[..., rr.Registry],
) -> None:
    async def boom(job: rr.Job[Any]) -> None:
        raise rr.Abort("no")

    reg = make_registry(jobs={"j": boom})
    with pytest.raises(rr.JobNotFound, match="no such job, or it succeeded and was not kept"):
        await reg.cancel("0" * 26)
    job_id = await reg.push("j", {})
    unit = rr.Unit(reg, "w")
    await asyncio.wait_for(unit.run(burst=True), 10)
    with pytest.raises(rr.NotCancellable, match="already failed"):
        await reg.cancel(job_id)


@needs(Capability.CANCEL, Capability.RENEW)
async def test_renew_reports_a_cancel_to_the_run_that_was_asked(driver: Any) -> None:
    assert isinstance(driver, ResultStore)
    pushed = item(max_retries=3)
    await driver.push([pushed])
    r = await reserve_one(driver)
    env = r.envelope
    assert await driver.renew(env.queue, env.id, r.token, 30) is True
    assert await driver.cancel(env.queue, env.id) == "requested"
    assert await driver.renew(env.queue, env.id, r.token, 30) == CANCELLED
    assert await driver.renew(env.queue, env.id, "not-the-token", 30) is False


@needs(Capability.CANCEL, Capability.RENEW, Capability.LIST, Capability.FAILED_STORE)
async def test_cancel_stops_a_running_job_which_fails_without_retry(
    make_registry: Callable[..., rr.Registry],
) -> None:
    started = asyncio.Event()
    stopped: list[str] = []

    async def slow(job: rr.Job[Any]) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            stopped.append(job.id)
            raise

    reg = make_registry(jobs={"j": (slow, {"retry": 3})}, workers={"w": {"lease": 0.4}})
    job_id = await reg.push("j", {})
    unit = rr.Unit(reg, "w")
    running = asyncio.create_task(unit.run())
    try:
        await asyncio.wait_for(started.wait(), 10)
        assert await reg.cancel(job_id) == "requested"
        with pytest.raises(rr.JobFailed, match="cancelled"):
            await reg.result(job_id, timeout=10)
    finally:
        await unit.stop()
        await running
    assert stopped == [job_id]
    info = await reg.job_info(job_id)
    assert info is not None
    assert (info.state, info.error, info.attempts) == ("failed", "cancelled", 1)
    assert (unit.counts.failed, unit.counts.retried) == (1, 0)
