"""Delayed jobs and unique locks (DESIGN.md §4: delay, unique, unique_until, unique_for)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Capability, Driver, Outcome, Reserved

from .helpers import QUEUE, TOUCHED, eventually, item, reserve_one

needs = pytest.mark.needs


async def anything(job: rr.Job[Any]) -> None:
    return None


def settle(r: Reserved, kind: Any, delay: float = 0.0) -> Outcome:
    return Outcome(QUEUE, r.envelope.id, r.token, kind, delay=delay, error="boom")


# ---- delay ---------------------------------------------------------------------------------


@needs(Capability.DELAY)
async def test_delayed_job_is_not_reservable_before_due(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    pushed_at = time.time()
    job_id = await reg.push("j", {}, delay=0.5)
    driver = await reg.queue_driver(QUEUE)
    assert await driver.reserve(QUEUE, 1, 30.0) == []
    r = await reserve_one(driver)
    assert r.envelope.id == job_id
    assert time.time() - pushed_at >= 0.45
    assert r.envelope.attempt == 1


@needs(Capability.DELAY, Capability.COUNT, Capability.LIST)
async def test_delayed_job_shows_as_delayed(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    job_id = await reg.push("j", {}, delay=60)
    await reg.push("j", {})
    [info] = await reg.queue_info()
    assert (info.pending, info.delayed, info.reserved, info.failed) == (1, 1, 0, 0)
    job = await reg.job_info(job_id)
    assert job is not None
    assert job.state == "delayed"
    assert job.available_at == pytest.approx(job.enqueued_at + 60, abs=1.0)


# ---- unique: identity ---------------------------------------------------------------------


@needs(Capability.UNIQUE)
async def test_same_queue_job_and_key_returns_the_same_id(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything, "k": anything})
    first = await reg.push("j", {"n": 1}, unique="u1")
    assert await reg.push("j", {"n": 2}, unique="u1") == first
    assert await reg.push("k", {"n": 3}, unique="u1") != first  # other job name
    assert await reg.push("j", {"n": 4}, unique="u2") != first  # other key
    driver = await reg.queue_driver(QUEUE)
    payloads = [(await reserve_one(driver)).envelope.payload["n"] for _ in range(3)]
    assert payloads == [1, 3, 4]
    assert await driver.reserve(QUEUE, 1, 30.0) == []


@needs(Capability.UNIQUE)
async def test_other_queue_gets_its_own_lock(make_registry: Callable[..., rr.Registry]) -> None:
    TOUCHED.add("other")
    reg = make_registry(jobs={"j": anything}, queues={QUEUE: {}, "other": {}})
    a = await reg.push("j", {}, unique="u")
    b = await reg.push("j", {}, queue="other", unique="u")
    assert a != b
    assert await reg.push("j", {}, queue="other", unique="u") == b


@needs(Capability.UNIQUE)
async def test_colons_in_names_cannot_collide(make_registry: Callable[..., rr.Registry]) -> None:
    TOUCHED.update({"a:b", "a"})
    reg = make_registry(
        jobs={"c": (anything, {"queue": "a:b"}), "b:c": (anything, {"queue": "a"})},
        queues={"a:b": {}, "a": {}},
    )
    one = await reg.push("c", {}, unique="k")  # a:b + c + k
    two = await reg.push("b:c", {}, unique="k")  # a + b:c + k
    assert one != two
    three = await reg.push("c", {}, unique="x:y")
    four = await reg.push("c", {}, unique="x")
    assert three != four


# ---- unique: how long the lock holds -------------------------------------------------------


@needs(Capability.UNIQUE)
async def test_lock_holds_while_pending_and_reserved_and_releases_on_ack(driver: Driver) -> None:
    [first] = await driver.push([item(unique="u")])
    assert await driver.push([item(unique="u")]) == [first]  # pending
    r = await reserve_one(driver)
    assert await driver.push([item(unique="u")]) == [first]  # reserved
    assert await driver.settle([settle(r, "ack")]) == [True]
    [second] = await driver.push([item(unique="u")])
    assert second != first


@needs(Capability.UNIQUE, Capability.DELAY)
async def test_lock_holds_while_delayed_and_waiting_for_a_retry(driver: Driver) -> None:
    [first] = await driver.push([item(unique="u", delay=0.2, max_retries=1)])
    assert await driver.push([item(unique="u")]) == [first]  # delayed
    r = await reserve_one(driver)
    assert await driver.settle([settle(r, "release", delay=30)]) == [True]
    assert await driver.push([item(unique="u")]) == [first]  # waiting for its retry


@needs(Capability.UNIQUE)
async def test_lock_releases_on_final_failure(driver: Driver) -> None:
    [first] = await driver.push([item(unique="u")])
    r = await reserve_one(driver)
    assert await driver.settle([settle(r, "fail")]) == [True]
    [second] = await driver.push([item(unique="u")])
    assert second != first


@needs(Capability.UNIQUE, Capability.DELETE)
async def test_lock_releases_on_delete(driver: Driver) -> None:
    [first] = await driver.push([item(unique="u", delay=60)])
    assert await driver.delete(QUEUE, first) is True
    [second] = await driver.push([item(unique="u")])
    assert second != first


@needs(Capability.UNIQUE)
async def test_lock_releases_when_unique_for_runs_out(driver: Driver) -> None:
    [first] = await driver.push([item(unique="u", unique_for=0.3)])
    assert await driver.push([item(unique="u", unique_for=0.3)]) == [first]

    async def new_id() -> str | None:
        [got] = await driver.push([item(unique="u", unique_for=30)])
        return got if got != first else None

    second = await eventually(new_id, what="unique_for expiry")
    assert await driver.push([item(unique="u")]) == [second]  # the new holder's lock


@needs(Capability.UNIQUE)
async def test_unique_until_start_releases_at_reservation(driver: Driver) -> None:
    [first] = await driver.push([item(unique="u", unique_until="start")])
    assert await driver.push([item(unique="u", unique_until="start")]) == [first]
    await reserve_one(driver)
    [second] = await driver.push([item(unique="u", unique_until="start")])
    assert second != first


@needs(Capability.UNIQUE)
async def test_unique_until_start_through_the_registry(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": (anything, {"unique_until": "start"}), "d": anything})
    first = await reg.push("j", {}, unique="u")
    await reserve_one(await reg.queue_driver(QUEUE))
    assert await reg.push("j", {}, unique="u") != first
    held = await reg.push("d", {}, unique="u")  # job default "done"...
    assert await reg.push("d", {}, unique="u", unique_until="start") == held
