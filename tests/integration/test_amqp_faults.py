"""Broker-side faults in the middle of a drain: the worker runtime on the AMQP driver
recovers by itself and every job runs (and is acked) at least once; none is lost.

Slow (a broker restart takes seconds) and disruptive to anything else using the
local RabbitMQ, so marked ``slow``. The broker is always started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.amqp import AMQPDriver

from .test_amqp_driver import drop_namespace, rabbitmqctl

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl"),
    pytest.mark.timeout(180),
]

JOBS = 300
FAULT_AFTER = 40
DEADLINE = 120.0


class Drain:
    """A registry on one AMQP driver, a job that records each run, and the runs seen."""

    def __init__(self, url: str, prefix: str) -> None:
        self.ran: dict[str, int] = {}
        self.enough = asyncio.Event()
        #: Set once the fault was injected; runs past FAULT_AFTER wait for it, so the
        #: fault always lands mid-drain however fast or slow the machine is.
        self.faulted = asyncio.Event()
        self.driver = AMQPDriver(url, exchange=prefix + "x", prefix=prefix)
        self.registry = (
            rr.Registry().driver("d", self.driver)
            .queue("q", driver="d", workers=["w"], retry=10, retry_delay=0.05)
            .worker("w", concurrency=4, poll_interval=0.05, stop_timeout=5)
        )
        self.registry.job("j", self.handle, queue="q")
        self.registry.freeze()

    async def handle(self, job: rr.Job[Any]) -> None:
        self.ran[job.id] = self.ran.get(job.id, 0) + 1
        if len(self.ran) >= FAULT_AFTER:
            self.enough.set()
            if not self.faulted.is_set():
                await asyncio.wait_for(self.faulted.wait(), 60)
        await asyncio.sleep(0.02)

    async def run_until_all_ran(self, ids: list[str]) -> None:
        """Burst again and again (a burst ends early while the broker is away)."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            await rr.Unit(self.registry, "w").run(burst=True)
            try:
                pending = (await self.driver.counts("q")).pending
            except rr.DriverError:  # the broker is still away
                pending = None
            if set(ids) <= set(self.ran) and pending == 0:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"only {len(set(ids) & set(self.ran))}/{len(ids)} jobs ran")


@pytest.fixture
async def drain(amqp_url: str, require_service: Callable[[str], None]) -> AsyncIterator[Drain]:
    require_service("amqp")
    prefix = f"t{uuid.uuid4().hex[:8]}."
    d = Drain(amqp_url, prefix)
    yield d
    with contextlib.suppress(Exception):
        await d.registry.close()
    await drop_namespace(amqp_url, prefix)


async def drain_through(drain: Drain, fault: Callable[[], Any]) -> None:
    ids = await drain.registry.push_many("j", [{"n": i} for i in range(JOBS)])
    worker = asyncio.ensure_future(drain.run_until_all_ran(ids))
    await asyncio.wait_for(drain.enough.wait(), 30)
    try:
        await asyncio.to_thread(fault)
    finally:
        drain.faulted.set()
    assert len(drain.ran) < JOBS, "the drain finished before the fault hit"
    await worker
    counts = await drain.driver.counts("q")
    assert (counts.pending, counts.failed) == (0, 0)
    assert set(drain.ran) == set(ids)  # every job ran at least once (duplicates allowed)


def outage_lines(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    records = [r for r in caplog.records if r.name == "runa_runner.amqp"]
    return (sum("lost" in r.getMessage() for r in records),
            sum("restored" in r.getMessage() for r in records))


async def test_close_all_connections_mid_drain(
    drain: Drain, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="runa_runner.amqp")
    await drain_through(drain, lambda: rabbitmqctl("close_all_connections", "test"))
    assert outage_lines(caplog) == (1, 1)  # one line when lost, one when back: no flood


async def test_broker_restart_mid_drain(
    drain: Drain, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="runa_runner.amqp")

    def restart() -> None:
        try:
            rabbitmqctl("stop_app")
            time.sleep(2.0)  # the workers see the broker gone, not just a blip
        finally:
            rabbitmqctl("start_app")

    try:
        await drain_through(drain, restart)
    finally:
        await asyncio.to_thread(rabbitmqctl, "start_app")
    lost, restored = outage_lines(caplog)
    assert lost == 1 and restored == 1
