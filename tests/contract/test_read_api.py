"""The read and admin API (runa_runner/inspection.py) over each driver: job pages,
the oldest-due age, job lookup, failed-only delete, and what it refuses."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Capability, Outcome
from runa_runner.errors import ConfigError, Unsupported
from runa_runner.inspection import MAX_PAGE, Inspector

from .helpers import QUEUE, reserve_one

needs = pytest.mark.needs


async def anything(job: rr.Job[Any]) -> None:
    return None


async def fail_one(reg: rr.Registry) -> str:
    driver = await reg.queue_driver(QUEUE)
    r = await reserve_one(driver)
    outcome = Outcome(QUEUE, r.envelope.id, r.token, "fail", error="boom", traceback="TB")
    assert await driver.settle([outcome]) == [True]
    return r.envelope.id


@needs(Capability.LIST_JOBS)
async def test_job_pages_follow_next_until_null(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    ids = await reg.push_many("j", range(5))
    api = reg.inspector()
    seen, after, pages = [], None, 0
    while True:
        page = await api.jobs(QUEUE, "pending", limit=2, after=after)
        pages += 1
        seen += [j.id for j in page.jobs]
        assert set(page.to_dict()) == {"jobs", "next"}
        if page.next is None:
            break
        assert page.next == page.jobs[-1].id
        after = page.next
    assert pages == 3
    assert seen == sorted(ids, reverse=True)  # one batch: one due time, ids descend
    assert page.to_dict()["jobs"][0]["state"] == "pending"


@needs(Capability.LIST_JOBS)
async def test_an_exact_last_page_has_no_next(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    await reg.push_many("j", range(2))
    page = await reg.inspector().jobs(QUEUE, "pending", limit=2)
    assert (len(page.jobs), page.next) == (2, None)


@needs(Capability.LIST_JOBS, Capability.FAILED_STORE)
async def test_failed_jobs_page_and_show_their_error(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    await reg.push("j", 1)
    failed = await fail_one(reg)
    page = await reg.inspector().jobs(QUEUE, "failed")
    assert [(j.id, j.state, j.error) for j in page.jobs] == [(failed, "failed", "boom")]
    assert page.jobs[0].traceback == "TB"


@needs(Capability.LIST_JOBS)
async def test_bad_state_or_limit_is_one_clear_error(
    make_registry: Callable[..., rr.Registry],
) -> None:
    api = make_registry(jobs={"j": anything}).inspector()
    with pytest.raises(ConfigError, match="state must be one of pending, delayed, failed, "
                                          "got 'reserved'"):
        await api.jobs(QUEUE, "reserved")
    for limit in (0, MAX_PAGE + 1, True):
        with pytest.raises(ConfigError, match=f"limit must be a whole number from 1 to {MAX_PAGE}"):
            await api.jobs(QUEUE, "pending", limit=limit)
    with pytest.raises(rr.UnknownName, match="unknown queue 'qq'"):
        await api.jobs("qq", "pending")


async def test_a_driver_that_cannot_list_says_so(
    make_registry: Callable[..., rr.Registry], driver_capabilities: frozenset[Capability],
) -> None:
    if Capability.LIST_JOBS in driver_capabilities:
        pytest.skip("the driver lists jobs")
    api = make_registry(jobs={"j": anything}).inspector()
    with pytest.raises(Unsupported, match="does not support listing jobs"):
        await api.jobs(QUEUE, "pending")
    assert await api.oldest_due_age(QUEUE) is None


@needs(Capability.LIST_JOBS, Capability.DELAY)
async def test_oldest_due_age_is_how_long_the_oldest_runnable_job_waited(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    api = reg.inspector()
    assert await api.oldest_due_age(QUEUE) == 0.0  # nothing waits
    await reg.push("j", 1, delay=60)
    assert await api.oldest_due_age(QUEUE) == 0.0  # delayed is not runnable
    await reg.push("j", 2)
    time.sleep(0.05)
    age = await api.oldest_due_age(QUEUE)
    assert age is not None and 0.04 <= age < 30
    assert await api.oldest_due_ages() == {QUEUE: pytest.approx(age, abs=5)}


@needs(Capability.LIST)
async def test_job_lookup_with_and_without_the_queue(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything}, queues={QUEUE: {}, "other": {}})
    job_id = await reg.push("j", {"k": 1})
    api = reg.inspector()
    for queue in (None, QUEUE):
        info = await api.job(job_id, queue)
        assert info is not None and (info.id, info.queue, info.payload) == (job_id, QUEUE, {"k": 1})
    assert await api.job(job_id, "other") is None
    assert await api.job("0" * 26) is None
    assert api.down == {}


@needs(Capability.LIST, Capability.FAILED_STORE, Capability.DELETE)
async def test_delete_failed_leaves_a_job_that_is_not_failed(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    await reg.push("j", 1)
    failed = await fail_one(reg)
    waiting = await reg.push("j", 2)
    api = reg.inspector()
    assert not await api.delete_failed(QUEUE, waiting)
    assert await api.delete_failed(QUEUE, failed)
    assert await api.job(failed) is None
    assert (await api.job(waiting)) is not None


async def test_seen_from_outside_an_in_process_driver_is_unknown_not_empty(
    make_registry: Callable[..., rr.Registry], driver_capabilities: frozenset[Capability],
) -> None:
    reg = make_registry(jobs={"j": anything})
    [inside] = await Inspector(reg).queues()
    [outside] = await Inspector(reg, outside=True).queues()
    if Capability.CROSS_PROCESS in driver_capabilities:
        assert outside == inside
    else:
        assert (outside.pending, outside.failed) == (None, None)
        assert inside.pending == 0
