"""The scheduler inside ``work``: a failing schedule waits alone; a scheduler that dies
stops the process's worker pools, which exit 1 with the traceback logged (never a hang)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.cli.signals import Stopper
from runa_runner.cli.work import serve
from runa_runner.drivers.sqlite import SQLiteDriver
from runa_runner.schedules import scheduler as scheduler_module


def registry(tmp_path: Path, push_middleware: Any = None) -> rr.Registry:
    r = rr.Registry().driver("d", SQLiteDriver(tmp_path / "q.db"))
    r.queue("q", driver="d", workers=["w"]).worker("w", poll_interval=0.01)
    r.job("j", lambda job: None, queue="q")
    r.schedule("broken", "j", every=0.05, queue="q").schedule("fine", "j", every=0.05)
    if push_middleware is not None:
        r.use_push(push_middleware)
    return r.freeze()


async def test_a_middleware_bug_stops_only_its_schedule(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    async def refuse_broken(envelope: rr.Envelope, call_next: Any) -> str:
        if envelope.meta.get("schedule") == "broken":
            raise RuntimeError("middleware bug")
        return str(await call_next(envelope))

    r = registry(tmp_path, refuse_broken)
    events: list[rr.ScheduleEvent] = []
    sched = rr.Scheduler(r, on_event=events.append)
    task = asyncio.create_task(sched.run())
    with caplog.at_level(logging.ERROR, "runa_runner.schedules"):
        for _ in range(200):
            if sum(e.kind == "fired" for e in events) >= 3:
                break
            await asyncio.sleep(0.05)
        sched.stop()
        await asyncio.wait_for(task, 10)
    await r.close()
    assert {e.schedule for e in events if e.kind == "fired"} == {"fine"}
    assert caplog.text.count("schedule broken: middleware bug") == 1  # once, not per retry
    assert "Traceback" in caplog.text


async def test_a_dead_scheduler_stops_the_workers_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    async def crash(self: Any, now: float) -> bool:
        raise RuntimeError("scheduler bug")

    monkeypatch.setattr(scheduler_module.Scheduler, "run_pass", crash)
    r = registry(tmp_path)
    with caplog.at_level(logging.INFO, "runa_runner"):
        code = await asyncio.wait_for(serve(r, ["w"], False, Stopper(), ["fine"]), 30)
    await r.close()
    assert code == 1
    assert "the scheduler died unexpectedly (RuntimeError: scheduler bug)" in caplog.text
    assert "worker w stopped" in caplog.text
