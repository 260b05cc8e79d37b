"""Pause/resume and flow control (DESIGN §14, drivers/flow.py), on every driver that can.

Two driver instances over one namespace play two worker processes: the flag and the
limits must hold across them, since they live in the driver.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Capability, Driver, Outcome, Reserved
from runa_runner.drivers.flow import Flow, FlowStore, Rate
from runa_runner.errors import ConfigError, Unsupported

from .helpers import QUEUE, burst, eventually, item

needs = pytest.mark.needs


def store(driver: Driver) -> FlowStore:
    assert isinstance(driver, FlowStore)
    return driver


def ack(r: Reserved) -> Outcome:
    return Outcome(QUEUE, r.envelope.id, r.token, "ack")


async def two(make_driver: Callable[[], Driver],
              capabilities: frozenset[Capability]) -> tuple[Driver, Driver]:
    """Two instances over the same data ("two processes"); one where it is in-process."""
    a = make_driver()
    await a.open()
    if Capability.CROSS_PROCESS not in capabilities:
        return a, a
    b = make_driver()
    await b.open()
    return a, b


# ---- pause ----------------------------------------------------------------------------------


@needs(Capability.PAUSE)
async def test_paused_queue_takes_pushes_and_reserves_nothing(
    make_driver: Callable[[], Driver], driver_capabilities: frozenset[Capability],
) -> None:
    a, b = await two(make_driver, driver_capabilities)
    await a.push([item(), item()])
    assert await store(a).set_paused(QUEUE, True) is False
    assert await store(b).set_paused(QUEUE, True) is True  # idempotent, and says so
    assert await store(b).paused(QUEUE) is True
    await b.push([item()])
    assert await b.reserve(QUEUE, 10, 30.0) == []
    assert await b.reserve(QUEUE, 10, 30.0, Flow(max_running=5)) == []
    assert (await b.counts(QUEUE)).pending == 3
    assert await store(a).set_paused(QUEUE, False) is True
    assert await store(a).set_paused(QUEUE, False) is False
    assert len(await b.reserve(QUEUE, 10, 30.0)) == 3


@needs(Capability.PAUSE)
async def test_resume_wakes_a_waiting_worker(
    make_driver: Callable[[], Driver], driver_capabilities: frozenset[Capability],
) -> None:
    a, b = await two(make_driver, driver_capabilities)
    await store(a).set_paused(QUEUE, True)
    await a.push([item()])
    await b.wait([QUEUE], 0.2)  # takes the push's own wake-up, as a worker's reserve would
    waiting = asyncio.ensure_future(b.wait([QUEUE], 10.0))
    # A paused queue's due job must not end a wait (that would spin a worker).
    done, _ = await asyncio.wait([waiting], timeout=0.4)
    assert not done
    resumed = time.monotonic()
    await store(a).set_paused(QUEUE, False)
    await asyncio.wait_for(waiting, 2.0)
    assert time.monotonic() - resumed < 2.0
    assert len(await b.reserve(QUEUE, 1, 30.0)) == 1


async def test_pause_on_a_driver_that_cannot_is_refused(
    make_registry: Callable[..., rr.Registry], driver_capabilities: frozenset[Capability],
) -> None:
    if Capability.PAUSE in driver_capabilities:
        pytest.skip("the driver can pause")
    reg = make_registry()
    with pytest.raises(Unsupported, match="does not support pausing queues"):
        await reg.pause(QUEUE)


# ---- max_running ----------------------------------------------------------------------------


@needs(Capability.FLOW_CONTROL)
async def test_max_running_holds_across_instances(
    make_driver: Callable[[], Driver], driver_capabilities: frozenset[Capability],
) -> None:
    a, b = await two(make_driver, driver_capabilities)
    flow = Flow(max_running=2)
    await a.push([item() for _ in range(5)])
    got = await a.reserve(QUEUE, 5, 30.0, flow)
    assert len(got) == 2
    assert await b.reserve(QUEUE, 5, 30.0, flow) == []
    hold = await store(b).held(QUEUE, flow)
    assert hold is not None and hold.reason == "max_running"
    assert hold.describe(flow) == "max_running 2 reached"
    assert await a.settle([ack(got[0])]) == [True]
    [next_one] = await b.reserve(QUEUE, 5, 30.0, flow)
    assert next_one.envelope.attempt == 1  # held back, it spent no attempt
    # Without limits the same queue hands out everything left.
    assert len(await b.reserve(QUEUE, 5, 30.0)) == 2


@needs(Capability.FLOW_CONTROL, Capability.RENEW)
async def test_max_running_slot_frees_when_its_lease_lapses(
    make_driver: Callable[[], Driver], driver_capabilities: frozenset[Capability],
) -> None:
    a, b = await two(make_driver, driver_capabilities)
    flow = Flow(max_running=1)
    await a.push([item(max_retries=3), item(max_retries=3)])
    [crashed] = await a.reserve(QUEUE, 5, 0.3, flow)  # its worker "dies": no renew, no ack
    assert await b.reserve(QUEUE, 5, 30.0, flow) == []
    began = time.monotonic()
    got = await eventually(lambda: b.reserve(QUEUE, 5, 30.0, flow), timeout=3.0,
                           what="the lapsed slot free again")
    assert len(got) == 1
    assert time.monotonic() - began < 2.0
    assert got[0].envelope.id != crashed.envelope.id or got[0].envelope.attempt == 2


# ---- rate -----------------------------------------------------------------------------------


@needs(Capability.FLOW_CONTROL)
async def test_rate_counts_starts_in_a_sliding_window(
    make_driver: Callable[[], Driver], driver_capabilities: frozenset[Capability],
) -> None:
    a, b = await two(make_driver, driver_capabilities)
    flow = Flow(rate=Rate(2, 1.0))
    await a.push([item() for _ in range(5)])
    first = await a.reserve(QUEUE, 5, 30.0, flow)
    started = time.monotonic()
    assert len(first) == 2
    assert await a.settle([ack(r) for r in first]) == [True, True]
    # Finished runs still count: a rate limits starts, not jobs in flight.
    assert await b.reserve(QUEUE, 5, 30.0, flow) == []
    hold = await store(b).held(QUEUE, flow)
    assert hold is not None and hold.reason == "rate"
    assert hold.retry_in is not None and 0.0 < hold.retry_in <= 1.0
    assert hold.describe(flow) == "rate 2/1s reached"
    second = await eventually(lambda: b.reserve(QUEUE, 5, 30.0, flow), timeout=3.0,
                              what="the next window")
    assert time.monotonic() - started >= 0.9
    assert len(second) == 2
    assert all(r.envelope.attempt == 1 for r in second)


@needs(Capability.FLOW_CONTROL)
async def test_nothing_held_when_nothing_is_due(driver: Driver) -> None:
    flow = Flow(max_running=1, rate=Rate(1, 60.0))
    assert await store(driver).held(QUEUE, flow) is None


# ---- through the registry and the worker ----------------------------------------------------


async def anything(job: rr.Job[Any]) -> None:
    return None


@needs(Capability.PAUSE, Capability.FLOW_CONTROL, Capability.LIST, Capability.COUNT)
async def test_queue_info_and_job_info_say_paused_and_held(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything}, queues={QUEUE: {"max_running": 1}})
    first = await reg.push("j", {})
    second = await reg.push("j", {})
    [info] = await reg.queue_info()
    assert info.paused is False
    driver = await reg.queue_driver(QUEUE)
    [r] = await driver.reserve(QUEUE, 5, 30.0, reg.queue_spec(QUEUE).flow)
    assert r.envelope.id == first
    job = await reg.job_info(second)
    assert job is not None and job.state == "pending"
    assert job.held == "max_running 1 reached"
    assert job.to_dict()["held"] == "max_running 1 reached"
    assert await reg.pause(QUEUE) is False
    assert await reg.paused(QUEUE) is True
    [info] = await reg.queue_info()
    assert info.paused is True
    job = await reg.job_info(second)
    assert job is not None and job.held == "queue paused"
    assert await reg.resume(QUEUE) is True
    await driver.settle([ack(r)])
    job = await reg.job_info(second)
    assert job is not None and job.held is None


@needs(Capability.FLOW_CONTROL)
async def test_worker_keeps_max_running_below_its_concurrency(
    make_registry: Callable[..., rr.Registry],
) -> None:
    running = peak = 0

    async def track(job: rr.Job[Any]) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1

    reg = make_registry(jobs={"j": track}, queues={QUEUE: {"max_running": 2}},
                        workers={"w": {"concurrency": 6}})
    await reg.push_many("j", [{} for _ in range(8)])
    unit = await burst(reg)
    assert unit.counts.succeeded == 8
    assert peak == 2


@needs(Capability.FLOW_CONTROL)
async def test_burst_waits_out_a_rate_and_runs_everything(
    make_registry: Callable[..., rr.Registry],
) -> None:
    starts: list[float] = []

    async def track(job: rr.Job[Any]) -> None:
        starts.append(time.monotonic())

    reg = make_registry(jobs={"j": track}, queues={QUEUE: {"rate": "3/1s"}},
                        workers={"w": {"concurrency": 4}})
    await reg.push_many("j", [{} for _ in range(5)])
    unit = await burst(reg)
    assert unit.counts.succeeded == 5
    assert starts[3] - starts[0] >= 0.9  # the 4th start waited for the next window


@needs(Capability.PAUSE)
async def test_burst_leaves_a_paused_queue_alone(make_registry: Callable[..., rr.Registry],
                                                 ) -> None:
    ran: list[str] = []

    async def track(job: rr.Job[Any]) -> None:
        ran.append(job.id)

    reg = make_registry(jobs={"j": track})
    await reg.pause(QUEUE)
    await reg.push("j", {})
    unit = await burst(reg, timeout=5.0)
    assert unit.counts.processed == 0 and ran == []
    await reg.resume(QUEUE)
    unit = await burst(reg)
    assert len(ran) == 1


async def test_limits_on_a_driver_that_cannot_are_refused(
    make_registry: Callable[..., rr.Registry], driver_capabilities: frozenset[Capability],
) -> None:
    if Capability.FLOW_CONTROL in driver_capabilities:
        pytest.skip("the driver keeps flow limits")
    with pytest.raises(ConfigError, match="lacks the 'flow_control' capability"):
        make_registry(queues={QUEUE: {"max_running": 2}})
