"""list_jobs (a queue's jobs by state, newest first, paged by id) and oldest_due."""

from __future__ import annotations

import time

import pytest

from runa_runner.drivers.base import Capability, Driver, ListState, Outcome
from runa_runner.errors import Unsupported

from .helpers import QUEUE, item, reserve_one

needs = pytest.mark.needs


async def all_pages(driver: Driver, state: ListState, limit: int) -> list[list[str]]:
    """Every page of ``state``, following each page's last id as the cursor."""
    pages: list[list[str]] = []
    after = None
    while True:
        page = [r.envelope.id for r in await driver.list_jobs(QUEUE, state, limit, after)]
        if not page:
            return pages
        pages.append(page)
        after = page[-1]
        assert len(pages) < 50, "paging does not end"


@needs(Capability.LIST_JOBS)
async def test_pending_jobs_page_newest_first_without_gaps_or_repeats(driver: Driver) -> None:
    first = await driver.push([item(payload=n) for n in range(7)])  # one batch: one due time
    time.sleep(0.01)
    second = await driver.push([item(payload="late")])
    pages = await all_pages(driver, "pending", 3)
    assert [len(p) for p in pages] == [3, 3, 2]
    listed = [i for p in pages for i in p]
    # The later push is newest; within one due time, ids (time-ordered) descend.
    assert listed == [*second, *sorted(first, reverse=True)]


@needs(Capability.LIST_JOBS, Capability.DELAY)
async def test_pending_and_delayed_are_listed_apart_and_reserved_in_neither(
    driver: Driver,
) -> None:
    [soon, later] = await driver.push([item(delay=60), item(delay=120)])
    due = await driver.push([item(payload=n) for n in range(3)])
    taken = await reserve_one(driver)
    assert taken.envelope.id in due
    delayed = await driver.list_jobs(QUEUE, "delayed", 10)
    assert [r.envelope.id for r in delayed] == [later, soon]
    assert {r.state for r in delayed} == {"delayed"}
    pending = await driver.list_jobs(QUEUE, "pending", 10)
    assert {r.envelope.id for r in pending} == set(due) - {taken.envelope.id}
    assert {r.state for r in pending} == {"pending"}
    assert [r.envelope.id for r in await driver.list_jobs(QUEUE, "delayed", 1, later)] == [soon]


@needs(Capability.LIST_JOBS, Capability.FAILED_STORE)
async def test_failed_jobs_page_latest_failure_first(driver: Driver) -> None:
    ids = await driver.push([item(payload=n) for n in range(4)])
    order = []
    for _ in ids:
        r = await reserve_one(driver)
        await driver.settle([Outcome(QUEUE, r.envelope.id, r.token, "fail", error="boom")])
        order.append(r.envelope.id)
        time.sleep(0.002)
    pages = await all_pages(driver, "failed", 3)
    assert [i for p in pages for i in p] == order[::-1]
    [newest] = await driver.list_jobs(QUEUE, "failed", 1)
    assert (newest.state, newest.error) == ("failed", "boom")


@needs(Capability.LIST_JOBS)
async def test_a_cursor_whose_job_left_goes_on_from_its_time(driver: Driver) -> None:
    older = await driver.push([item(payload="old")])
    time.sleep(0.01)
    [cursor] = await driver.push([item(payload="cursor")])
    time.sleep(0.01)
    await driver.push([item(payload="new")])
    assert await driver.delete(QUEUE, cursor)
    page = await driver.list_jobs(QUEUE, "pending", 10, cursor)
    assert [r.envelope.id for r in page] == older


@needs(Capability.LIST_JOBS)
async def test_limit_zero_and_an_empty_queue_give_no_jobs(driver: Driver) -> None:
    assert await driver.list_jobs(QUEUE, "pending", 10) == []
    await driver.push([item()])
    assert await driver.list_jobs(QUEUE, "pending", 0) == []


@needs(Capability.LIST_JOBS, Capability.DELAY)
async def test_oldest_due_is_the_earliest_due_time(driver: Driver) -> None:
    assert await driver.oldest_due(QUEUE) is None
    await driver.push([item(delay=60)])
    assert await driver.oldest_due(QUEUE) is None  # nothing is runnable yet
    before = time.time()
    await driver.push([item()])
    time.sleep(0.01)
    await driver.push([item()])
    oldest = await driver.oldest_due(QUEUE)
    assert oldest is not None
    assert before - 1 <= oldest <= time.time()
    [_newest, second] = await driver.list_jobs(QUEUE, "pending", 2)
    assert oldest == pytest.approx(second.envelope.available_at, abs=1e-3)


async def test_a_driver_without_list_jobs_says_unsupported(
    driver: Driver, driver_capabilities: frozenset[Capability]
) -> None:
    if Capability.LIST_JOBS in driver_capabilities:
        pytest.skip("the driver lists jobs")
    with pytest.raises(Unsupported, match="does not support listing jobs"):
        await driver.list_jobs(QUEUE, "pending", 10)
    with pytest.raises(Unsupported):
        await driver.oldest_due(QUEUE)
