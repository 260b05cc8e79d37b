"""The driver protocol itself: push, reserve, tokens, settle, renew, leases (DESIGN.md §4, §7b)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from runa_runner.drivers.base import Capability, Driver, Outcome, Reserved

from .helpers import QUEUE, eventually, item, reserve_one

needs = pytest.mark.needs


def ack(r: Reserved) -> Outcome:
    return Outcome(r.envelope.queue, r.envelope.id, r.token, "ack")


def release(r: Reserved, delay: float = 0.0, *, give_back: bool = False) -> Outcome:
    return Outcome(r.envelope.queue, r.envelope.id, r.token, "release", delay=delay,
                   give_back_attempt=give_back)


def fail(r: Reserved, error: str = "boom", tb: str | None = "Traceback: boom") -> Outcome:
    return Outcome(r.envelope.queue, r.envelope.id, r.token, "fail", error=error, traceback=tb)


async def drain(driver: Driver, n: int, queue: str = QUEUE, lease: float = 30.0) -> list[Reserved]:
    """Reserve until ``n`` jobs are held (a driver may hand out fewer than asked per call)."""
    got: list[Reserved] = []

    async def probe() -> bool:
        got.extend(await driver.reserve(queue, n - len(got), lease))
        return len(got) >= n

    await eventually(probe, what=f"{n} reserved jobs")
    return got


async def test_push_reserve_ack(driver: Driver) -> None:
    before = time.time()
    [job_id] = await driver.push([item(payload={"n": 1})])
    r = await reserve_one(driver)
    assert r.envelope.id == job_id
    assert r.envelope.payload == {"n": 1}
    assert r.envelope.attempt == 1
    assert r.token
    assert r.lease_until > before
    assert before - 1 <= r.envelope.enqueued_at <= time.time() + 1
    assert await driver.reserve(QUEUE, 1, 30.0) == []
    assert await driver.settle([ack(r)]) == [True]
    assert await driver.reserve(QUEUE, 1, 30.0) == []


@needs(Capability.LIST)
async def test_acked_job_is_gone(driver: Driver) -> None:
    [job_id] = await driver.push([item()])
    r = await reserve_one(driver)
    assert (await driver.get(QUEUE, job_id)) is not None
    await driver.settle([ack(r)])
    assert await driver.get(QUEUE, job_id) is None


async def test_ids_are_time_ordered_and_reserved_oldest_first(driver: Driver) -> None:
    ids = [(await driver.push([item(payload=i)]))[0] for i in range(5)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    got = await drain(driver, 5)
    assert [r.envelope.id for r in got] == ids


async def test_push_batch_returns_ids_in_order(driver: Driver) -> None:
    items = [item(payload=i) for i in range(4)]
    ids = await driver.push(items)
    assert ids == [i.envelope.id for i in items]
    got = await drain(driver, 4)
    assert [r.envelope.payload for r in got] == [0, 1, 2, 3]


async def test_reserve_never_returns_more_than_asked(driver: Driver) -> None:
    await driver.push([item(payload=i) for i in range(5)])
    first = await reserve_one(driver)
    more = await driver.reserve(QUEUE, 2, 30.0)
    assert len(more) <= 2
    rest = await drain(driver, 4 - len(more))
    ids = {r.envelope.id for r in [first, *more, *rest]}
    assert len(ids) == 5


async def test_queues_are_separate(driver: Driver) -> None:
    await driver.push([item("q1", payload="one")])
    await driver.push([item("q2", payload="two")])
    r = await reserve_one(driver, "q2")
    assert r.envelope.payload == "two"
    assert await driver.reserve("q2", 5, 30.0) == []
    assert (await reserve_one(driver, "q1")).envelope.payload == "one"


async def test_settle_with_wrong_token_is_refused(driver: Driver) -> None:
    await driver.push([item()])
    r = await reserve_one(driver)
    forged = Outcome(QUEUE, r.envelope.id, r.token + "x", "ack")
    assert await driver.settle([forged]) == [False]
    assert await driver.reserve(QUEUE, 1, 30.0) == []  # still reserved by the holder
    assert await driver.settle([ack(r)]) == [True]
    assert await driver.settle([ack(r)]) == [False]  # a token settles once


async def test_settle_is_batched_and_answers_per_outcome(driver: Driver) -> None:
    await driver.push([item(payload=i) for i in range(3)])
    a, b, c = await drain(driver, 3)
    bogus = Outcome(QUEUE, c.envelope.id, "not-a-token", "ack")
    assert await driver.settle([ack(a), bogus, ack(b)]) == [True, False, True]
    assert await driver.settle([ack(c)]) == [True]


async def test_release_now_keeps_the_attempt(driver: Driver) -> None:
    await driver.push([item(max_retries=3)])
    r1 = await reserve_one(driver)
    assert await driver.settle([release(r1)]) == [True]
    r2 = await reserve_one(driver)
    assert r2.envelope.id == r1.envelope.id
    assert r2.envelope.attempt == 2
    assert r2.token != r1.token


async def test_release_giving_back_the_attempt(driver: Driver) -> None:
    await driver.push([item(max_retries=3)])
    r1 = await reserve_one(driver)
    assert await driver.settle([release(r1, give_back=True)]) == [True]
    r2 = await reserve_one(driver)
    assert r2.envelope.attempt == 1


@needs(Capability.DELAY)
async def test_release_with_delay_waits(driver: Driver) -> None:
    await driver.push([item(max_retries=1)])
    r1 = await reserve_one(driver)
    released_at = time.time()
    assert await driver.settle([release(r1, delay=0.4)]) == [True]
    assert await driver.reserve(QUEUE, 1, 30.0) == []
    r2 = await reserve_one(driver)
    assert time.time() - released_at >= 0.35
    assert r2.envelope.attempt == 2


@needs(Capability.FAILED_STORE, Capability.LIST)
async def test_fail_keeps_error_and_traceback(driver: Driver) -> None:
    [job_id] = await driver.push([item(payload={"x": 1})])
    r = await reserve_one(driver)
    assert await driver.settle([fail(r, "ValueError: bad", "Traceback ...\nValueError: bad")]) \
        == [True]
    rec = await driver.get(QUEUE, job_id)
    assert rec is not None
    assert rec.state == "failed"
    assert rec.error == "ValueError: bad"
    assert rec.traceback is not None and "ValueError: bad" in rec.traceback
    assert rec.envelope.payload == {"x": 1}
    [listed] = await driver.list_failed(QUEUE)
    assert listed.envelope.id == job_id
    assert await driver.reserve(QUEUE, 1, 30.0) == []


# ---- renew, leases, fencing -----------------------------------------------------------


@needs(Capability.RENEW)
async def test_holder_renews_and_others_cannot(driver: Driver) -> None:
    await driver.push([item()])
    r = await reserve_one(driver, lease=0.3)
    assert await driver.renew(QUEUE, r.envelope.id, r.token, 30.0) is True
    assert await driver.renew(QUEUE, r.envelope.id, "wrong-token", 30.0) is False
    assert await driver.renew(QUEUE, "no-such-job", r.token, 30.0) is False
    await asyncio.sleep(0.4)  # past the original lease: only the renewal keeps it
    assert await driver.reserve(QUEUE, 1, 30.0) == []
    assert await driver.settle([ack(r)]) == [True]
    assert await driver.renew(QUEUE, r.envelope.id, r.token, 30.0) is False


@needs(Capability.RENEW)
async def test_lapsed_lease_redelivers_and_fences_the_old_holder(driver: Driver) -> None:
    # Drivers with RENEW enforce the lease time (a visibility timeout); without renew
    # a lease cannot be time-bound, or every long job would be redelivered.
    await driver.push([item(max_retries=2)])
    old = await reserve_one(driver, lease=0.2)
    assert old.envelope.attempt == 1
    new = await reserve_one(driver, lease=30.0)
    assert new.envelope.id == old.envelope.id
    assert new.envelope.attempt == 2
    assert new.token != old.token
    assert await driver.renew(QUEUE, old.envelope.id, old.token, 30.0) is False
    assert await driver.settle([ack(old)]) == [False]
    assert await driver.settle([fail(old)]) == [False]
    assert await driver.settle([ack(new)]) == [True]


@needs(Capability.RENEW, Capability.FAILED_STORE, Capability.LIST)
async def test_lease_lapsing_on_the_last_attempt_fails_the_job(driver: Driver) -> None:
    [job_id] = await driver.push([item(max_retries=1)])
    r1 = await reserve_one(driver, lease=0.1)
    r2 = await reserve_one(driver, lease=0.1)  # lapsed once: attempt 2 of 2
    assert r2.envelope.attempt == 2 == r2.envelope.max_attempts
    assert r1.envelope.id == r2.envelope.id

    async def failed() -> bool:
        assert await driver.reserve(QUEUE, 1, 0.1) == []  # never a third run
        rec = await driver.get(QUEUE, job_id)
        return rec is not None and rec.state == "failed"

    await eventually(failed, what="poison job in failed")
    rec = await driver.get(QUEUE, job_id)
    assert rec is not None and rec.error is not None and "lease" in rec.error
    assert [r.envelope.id for r in await driver.list_failed(QUEUE)] == [job_id]
    assert await driver.settle([ack(r2)]) == [False]


@needs(Capability.CROSS_PROCESS)
async def test_crashed_holder_job_comes_back_with_next_attempt(
    make_driver: Callable[[], Driver],
) -> None:
    first = make_driver()
    await first.open()
    await first.push([item(max_retries=2, payload="crash")])
    r1 = await reserve_one(first, lease=0.3)
    await first.close()  # the worker process dies without settling
    second = make_driver()
    await second.open()
    r2 = await reserve_one(second, lease=30.0, timeout=10.0)
    assert r2.envelope.id == r1.envelope.id
    assert r2.envelope.attempt == 2
    assert await second.settle([ack(r2)]) == [True]
    await second.close()


@needs(Capability.CROSS_PROCESS, Capability.FAILED_STORE)
async def test_crash_on_the_last_attempt_ends_in_failed(
    make_driver: Callable[[], Driver],
) -> None:
    first = make_driver()
    await first.open()
    [job_id] = await first.push([item(max_retries=0, payload="poison")])
    await reserve_one(first, lease=0.3)
    await first.close()
    second = make_driver()
    await second.open()
    if Capability.LIST in second.capabilities:

        async def failed() -> bool:
            assert await second.reserve(QUEUE, 1, 30.0) == []  # a poison job never runs twice
            rec = await second.get(QUEUE, job_id)
            return rec is not None and rec.state == "failed"

        await eventually(failed, timeout=10.0, what="crashed job in failed")
        rec = await second.get(QUEUE, job_id)
        assert rec is not None and rec.error is not None and "lease" in rec.error
    else:

        async def moved_back() -> bool:
            assert await second.reserve(QUEUE, 1, 30.0) == []  # a poison job never runs twice
            # Only a job in the failed store can be retried from it.
            return await second.retry_failed(QUEUE, [job_id]) == 1

        await eventually(moved_back, timeout=10.0, what="crashed job in failed")
    await second.close()


async def test_namespaces_do_not_see_each_others_jobs(
    driver: Driver, make_sibling_driver: Callable[[], Driver],
) -> None:
    # Two deployments on one server, told apart by prefix (Redis keys, AMQP queue names).
    other = make_sibling_driver()
    await other.open()
    await driver.push([item(payload="mine")])
    await other.push([item(payload="theirs")])
    assert (await reserve_one(driver)).envelope.payload == "mine"
    assert (await reserve_one(other)).envelope.payload == "theirs"
    assert await driver.reserve(QUEUE, 5, 30.0) == []
    assert await other.reserve(QUEUE, 5, 30.0) == []
    await other.close()
