"""Run events over each driver: what a unit's observers hear, in order, and that the
counting observer is what ``unit.counts`` and ``list`` report."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Capability, Outcome
from runa_runner.events import Observer, outcome_name
from runa_runner.job import Envelope

from .helpers import QUEUE, burst, burst_until

needs = pytest.mark.needs


class Recorder(Observer):
    """Every event as a tuple, in the order heard."""

    def __init__(self) -> None:
        self.heard: list[tuple[Any, ...]] = []

    def on_pushed(self, queue: str, job: str, ids: Sequence[str]) -> None:
        self.heard.append(("pushed", queue, job, len(ids)))

    def on_started(self, worker: str, envelope: Envelope) -> None:
        self.heard.append(("started", worker, envelope.job, envelope.attempt))

    def on_settled(self, worker: str, envelope: Envelope, outcome: Outcome, held: bool,
                   duration: float) -> None:
        self.heard.append(("settled", worker, envelope.job, outcome_name(outcome), held,
                           duration))

    def on_lease_lost(self, worker: str, envelope: Envelope) -> None:
        self.heard.append(("lease_lost", worker, envelope.job))


async def test_a_run_is_heard_pushed_started_then_settled_with_its_duration(
    make_registry: Callable[..., rr.Registry],
) -> None:
    async def slow(job: rr.Job[Any]) -> None:
        await asyncio.sleep(0.05)

    reg = make_registry(jobs={"j": slow})
    rec = Recorder()
    reg.events.add(rec)
    await reg.push_many("j", [1, 2])
    unit = await burst(reg)
    assert rec.heard[0] == ("pushed", QUEUE, "j", 2)
    assert sorted(e[0] for e in rec.heard[1:]) == ["settled", "settled", "started", "started"]
    settled = [e for e in rec.heard if e[0] == "settled"]
    assert [e[1:5] for e in settled] == [("w", "j", "succeeded", True)] * 2
    assert all(e[5] >= 0.04 for e in settled)
    assert unit.counts.succeeded == 2


@needs(Capability.DELAY)
async def test_retries_and_the_final_failure_are_heard_and_counted(
    make_registry: Callable[..., rr.Registry],
) -> None:
    async def boom(job: rr.Job[Any]) -> None:
        raise ValueError("nope")

    reg = make_registry(jobs={"j": (boom, {"retry": 1, "retry_delay": 0.01})})
    rec = Recorder()
    reg.events.add(rec)
    await reg.push("j", 1)
    total = await burst_until(
        reg, lambda: sum(e[0] == "settled" for e in rec.heard) == 2, what="two runs")
    runs = [(e[0], e[3]) for e in rec.heard if e[0] == "started"]
    assert runs == [("started", 1), ("started", 2)]
    assert [e[3] for e in rec.heard if e[0] == "settled"] == ["retried", "failed"]
    assert total == (0, 1, 1)


async def test_an_observer_that_raises_does_not_stop_the_worker(
    make_registry: Callable[..., rr.Registry],
) -> None:
    class Broken(Observer):
        def on_started(self, worker: str, envelope: Envelope) -> None:
            raise RuntimeError("observer bug")

    done: list[int] = []

    async def record(job: rr.Job[Any]) -> None:
        done.append(job.payload)

    reg = make_registry(jobs={"j": record})
    reg.events.add(Broken())
    await reg.push("j", 7)
    unit = await burst(reg)
    assert (done, unit.counts.succeeded) == ([7], 1)


@needs(Capability.RENEW, Capability.PURGE)
async def test_a_lost_lease_is_heard(make_registry: Callable[..., rr.Registry]) -> None:
    started = asyncio.Event()

    async def handle(job: rr.Job[Any]) -> None:
        started.set()
        await asyncio.sleep(30)

    reg = make_registry(jobs={"j": handle}, workers={"w": {"lease": 0.2, "stop_timeout": 5}})
    rec = Recorder()
    reg.events.add(rec)
    await reg.push("j", {})
    unit = rr.Unit(reg, "w")
    task = asyncio.create_task(unit.run())
    await asyncio.wait_for(started.wait(), 5)
    assert await reg.purge(QUEUE) == 1  # the job (and so its lease) is gone under the worker
    for _ in range(500):
        if any(e[0] == "lease_lost" for e in rec.heard):
            break
        await asyncio.sleep(0.01)
    await unit.stop()
    await asyncio.wait_for(task, 5)
    assert ("lease_lost", "w", "j") in rec.heard
    assert unit.counts.processed == 0
