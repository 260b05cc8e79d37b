"""Schedules on every driver that can fire them (DESIGN §10): each slot once, missed
slots by catch_up, overlap: skip, the pushed job's meta. The scheduler's clock is
injected, so slots come due without waiting."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Capability, Driver, Outcome, SlotClaim
from runa_runner.events import Observer
from runa_runner.schedules.scheduler import ScheduleEvent, Scheduler

from .helpers import QUEUE, item

needs = pytest.mark.needs
pytestmark = needs(Capability.SCHEDULES)

Build = Callable[..., rr.Registry]


def handler(job: rr.Job[dict[str, int]]) -> None:
    return None


@pytest.fixture
async def build(make_driver: Callable[[], Driver], driver_name: str) -> AsyncIterator[Build]:
    """``build(**schedule options)``: a frozen registry with schedule ``s`` (every 10s,
    grace 5s) of job ``j`` on queue ``q``. Registries share one driver for memory (one
    process) and use one driver instance each otherwise (one process each)."""
    made: list[rr.Registry] = []
    shared = make_driver() if driver_name == "memory" else None

    def make(**options: Any) -> rr.Registry:
        reg = rr.Registry().driver("d", shared or make_driver())
        reg.worker("w", poll_interval=0.01)
        reg.queue(QUEUE, driver="d", workers=["w"], meta={"from": "queue", "q": 1})
        reg.job("j", handler, queue=QUEUE, meta={"from": "job", "j": 1})
        settings = {"every": 10, "grace": 5, "payload": {"n": 1},
                    "meta": {"from": "schedule"}, **options}
        reg.schedule("s", "j", **settings)
        made.append(reg.freeze())
        return reg

    yield make
    for reg in made:
        await reg.close()


async def drain(reg: rr.Registry) -> list[rr.Envelope]:
    """Every job of the queue, by slot (reserved and acked: the queue ends empty)."""
    driver = await reg.queue_driver(QUEUE)
    got = await driver.reserve(QUEUE, 1000, 30.0)
    await driver.settle([Outcome(QUEUE, r.envelope.id, r.token, "ack") for r in got])
    return sorted((r.envelope for r in got), key=lambda j: str(j.meta.get("scheduled_for")))


def slots_of(jobs: list[rr.Envelope]) -> list[str]:
    return [j.meta["scheduled_for"][11:19] for j in jobs]  # HH:MM:SS of 1970-01-01


async def test_a_slot_claimed_by_many_fires_once(build: Build) -> None:
    regs = [build() for _ in range(3)]
    stores = [await r.queue_driver(QUEUE) for r in regs]
    claims = [s.fire(SlotClaim(QUEUE, "s", 1010.0, item(QUEUE, "j")))  # type: ignore[attr-defined]
              for s in stores for _ in range(5)]
    results = await asyncio.gather(*claims)
    assert sorted(r.outcome for r in results) == ["fired"] + ["taken"] * 14
    older = await stores[0].fire(  # type: ignore[attr-defined]
        SlotClaim(QUEUE, "s", 1000.0, item(QUEUE, "j")))
    assert older.outcome == "taken"
    assert len(await drain(regs[0])) == 1


async def test_schedulers_side_by_side_fire_each_slot_once(build: Build) -> None:
    regs = [build(), build(), build()]
    schedulers = [Scheduler(r) for r in regs]
    for now in (1000.0, 1011.0, 1021.0, 1022.0, 1031.0, 1045.0):
        await asyncio.gather(*(s.run_pass(now) for s in schedulers))
    assert slots_of(await drain(regs[0])) == ["00:16:50", "00:17:00", "00:17:10", "00:17:20"]


@pytest.mark.parametrize("catch_up, expected", [
    ("latest", ["00:16:50", "00:17:20"]),
    ("all", ["00:16:50", "00:17:00", "00:17:10", "00:17:20"]),
    ("none", ["00:16:50"]),
])
async def test_slots_missed_while_every_scheduler_was_down(
    build: Build, catch_up: str, expected: list[str],
) -> None:
    first = build(catch_up=catch_up)
    await Scheduler(first).run_pass(1000.0)  # sees the schedule: starts with the next slot
    await Scheduler(first).run_pass(1011.0)  # 1010 (00:16:50) fires
    # Down across 1020, 1030 and 1040; at 1046 all three are over grace (5s) late.
    events: list[ScheduleEvent] = []
    again = Scheduler(build(catch_up=catch_up), on_event=events.append)
    await again.run_pass(1046.0)
    assert slots_of(await drain(first)) == expected
    missed = sum(e.count for e in events if e.kind == "missed")
    assert missed == {"latest": 2, "all": 0, "none": 3}[catch_up]


async def test_a_new_schedule_never_fires_a_past_slot(build: Build) -> None:
    reg = build(catch_up="all")
    sched = Scheduler(reg)
    await sched.run_pass(1046.0)
    assert await drain(reg) == []
    await sched.run_pass(1051.0)
    assert slots_of(await drain(reg)) == ["00:17:30"]


async def test_overlap_skip_waits_for_the_previous_job(build: Build) -> None:
    reg = build(overlap="skip")
    driver = await reg.queue_driver(QUEUE)
    events: list[ScheduleEvent] = []
    sched = Scheduler(reg, on_event=events.append)
    await sched.run_pass(1000.0)
    await sched.run_pass(1011.0)
    first = events[-1].job_id
    assert [e.kind for e in events] == ["fired"]
    await sched.run_pass(1021.0)  # pending
    (held,) = await driver.reserve(QUEUE, 10, 30.0)
    await sched.run_pass(1031.0)  # reserved
    await driver.settle([Outcome(QUEUE, held.envelope.id, held.token, "release", delay=3600)])
    await sched.run_pass(1041.0)  # waiting for a retry
    assert [e.kind for e in events] == ["fired", "skipped", "skipped", "skipped"]
    assert {e.job_id for e in events} == {first}
    assert await driver.delete(QUEUE, held.envelope.id)
    await sched.run_pass(1051.0)  # gone (done): fires again
    assert [e.kind for e in events][-1] == "fired"
    (second,) = await driver.reserve(QUEUE, 10, 30.0)
    await driver.settle([Outcome(QUEUE, second.envelope.id, second.token, "fail", error="x")])
    await sched.run_pass(1061.0)  # failed for good: no longer running
    assert [e.kind for e in events][-1] == "fired"


async def test_overlap_allow_fires_while_the_previous_job_waits(build: Build) -> None:
    reg = build()
    sched = Scheduler(reg)
    for now in (1000.0, 1011.0, 1021.0, 1031.0):
        await sched.run_pass(now)
    assert len(await drain(reg)) == 3


async def test_pushed_job_carries_schedule_meta_and_payload(build: Build) -> None:
    reg = build(meta={"from": "schedule", "scheduled_for": "mine"}, payload={"n": 7})
    events: list[ScheduleEvent] = []
    await Scheduler(reg, clock=lambda: 1013.5, on_event=events.append).run_pass(1000.0)
    await Scheduler(reg, clock=lambda: 1013.5, on_event=events.append).run_pass(1013.0)
    (job,) = await drain(reg)
    # queue meta, then job meta, then schedule/scheduled_for, then the schedule's meta
    assert job.meta == {"from": "schedule", "q": 1, "j": 1, "schedule": "s",
                        "scheduled_for": "mine"}
    assert job.payload == {"n": 7}
    (fired,) = events
    assert (fired.kind, fired.slot, fired.job_id, fired.lateness) == (
        "fired", 1010.0, job.id, 3.5)


async def test_scheduled_for_is_the_slot_in_utc(build: Build) -> None:
    reg = build(meta=None)
    await Scheduler(reg).run_pass(1_806_195_000.0)
    await Scheduler(reg).run_pass(1_806_195_611.0)
    (job,) = await drain(reg)
    assert job.meta["scheduled_for"] == "2027-03-28T01:00:10+00:00"


async def test_schedule_info_shows_next_and_last_fire(build: Build) -> None:
    reg = build()
    (row,) = await reg.schedule_info()
    assert (row.name, row.job, row.queue, row.when, row.timezone) == (
        "s", "j", QUEUE, "every 10s", "UTC")
    assert (row.last_slot, row.last_job) == (None, None)
    events: list[ScheduleEvent] = []
    await Scheduler(reg).run_pass(1000.0)
    await Scheduler(reg, on_event=events.append).run_pass(1011.0)
    (row,) = await reg.schedule_info()
    assert (row.last_slot, row.last_job) == ("1970-01-01T00:16:50+00:00", events[0].job_id)
    assert row.next is not None and row.next.endswith("+00:00")


async def test_scheduler_runs_in_real_time_and_stops(build: Build) -> None:
    reg = build(every=0.2, grace=60)
    events: list[ScheduleEvent] = []
    sched = Scheduler(reg, on_event=events.append)
    task = asyncio.create_task(sched.run())
    for _ in range(200):
        if len([e for e in events if e.kind == "fired"]) >= 3:
            break
        await asyncio.sleep(0.05)
    sched.stop()
    await asyncio.wait_for(task, 5)
    fired = [e for e in events if e.kind == "fired"]
    assert len(fired) >= 3
    assert [round(b.slot - a.slot, 6) for a, b in itertools.pairwise(fired)] == [
        0.2] * (len(fired) - 1)


async def test_an_unreadable_state_stops_only_its_schedule(
    build: Build, driver_name: str, caplog: pytest.LogCaptureFixture,
) -> None:
    if driver_name == "memory":
        pytest.skip("memory keeps typed state in its own process: nothing to corrupt")
    reg = build()
    reg2 = rr.Registry().driver("d", reg.drivers["d"])
    reg2.worker("w").queue(QUEUE, driver="d", workers=["w"]).job("j", handler, queue=QUEUE)
    reg2.schedule("bad", "j", every=10).schedule("s", "j", every=10).freeze()
    await Scheduler(reg2).run_pass(1000.0)
    await corrupt(reg2, driver_name, "bad")
    events: list[ScheduleEvent] = []
    with caplog.at_level(logging.ERROR, "runa_runner.schedules"):
        await Scheduler(reg2, on_event=events.append).run_pass(1011.0)
    assert [(e.schedule, e.kind) for e in events] == [("s", "fired")]
    assert "schedule bad: schedule state's watermark is " in caplog.text


async def corrupt(reg: rr.Registry, driver_name: str, schedule: str) -> None:
    driver: Any = await reg.queue_driver(QUEUE)
    if driver_name == "sqlite":
        import sqlite3

        with sqlite3.connect(driver.path) as conn:
            conn.execute("UPDATE schedule_slots SET watermark = 'garbage' WHERE schedule = ?",
                         (schedule,))
        return
    if driver_name == "postgres":  # typed columns: a float no slot can be
        import psycopg

        with psycopg.connect(driver.settings.url, autocommit=True) as conn:
            conn.execute(f'UPDATE "{driver.settings.schema}".schedule_slots '  # type: ignore[arg-type]
                         "SET watermark = 'NaN' WHERE schedule = %s", (schedule,))
        return
    from runa_runner.drivers.redis.keys import schedule_key

    client = driver._conn().main
    await client.hset(schedule_key(driver.prefix, QUEUE, schedule), "watermark", "garbage")


class Heard(Observer):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_pushed(self, queue: str, job: str, ids: Sequence[str]) -> None:
        self.calls.append(("pushed", queue, job, len(ids)))

    def on_schedule_fired(self, schedule: str, slot: float, job_id: str,
                          lateness: float) -> None:
        self.calls.append(("fired", schedule, slot, lateness))

    def on_schedule_skipped(self, schedule: str, slot: float, running: str) -> None:
        self.calls.append(("skipped", schedule, slot))

    def on_schedule_missed(self, schedule: str, slot: float, count: int) -> None:
        self.calls.append(("missed", schedule, slot, count))


async def test_the_registrys_observers_hear_fires_skips_and_misses(build: Build) -> None:
    reg = build(overlap="skip")
    heard = Heard()
    reg.events.add(heard)
    await Scheduler(reg).run_pass(1000.0)
    await Scheduler(reg, clock=lambda: 1012.0).run_pass(1012.0)
    await Scheduler(reg).run_pass(1021.0)  # the first job still waits: skipped
    await Scheduler(reg).run_pass(1047.0)  # 1030 and 1040 were missed (grace 5s)
    assert heard.calls == [
        ("pushed", QUEUE, "j", 1), ("fired", "s", 1010.0, 2.0),
        ("skipped", "s", 1020.0),
        ("missed", "s", 1040.0, 1), ("skipped", "s", 1040.0),
    ]
