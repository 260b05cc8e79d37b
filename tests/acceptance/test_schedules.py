"""Schedules through the installed CLI: ``work`` fires its queues' schedules (unless
``--no-schedules``), ``schedule run``, ``schedule list``, and their errors."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from .conftest import Project, wait_for

MANIFEST = """\
default_driver: local
drivers:
  local: {type: sqlite, path: .runa/queue.db}
queues:
  main: {workers: [main], meta: {from: queue}}
  side: {workers: [side]}
  scratch: {driver: memory, workers: [main]}
workers:
  main: {poll_interval: 50ms}
  side: {poll_interval: 50ms}
jobs:
  tick: {handler: "sched_acc:record", queue: main}
  side.tick: {handler: "sched_acc:record", queue: side}
  scratch.tick: {handler: "sched_acc:record", queue: scratch}
schedules:
  tick: {job: tick, every: 1s, payload: {n: 1}, meta: {team: data}}
  side.tick: {job: side.tick, every: 1s}
  nightly: {job: tick, cron: "0 2 * * *", timezone: Europe/Berlin}
"""

HANDLER = '''\
from pathlib import Path
from typing import Any

from runa_runner import Job


def record(job: Job[Any]) -> None:
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    with open(out / "fires.log", "a", encoding="utf-8") as fh:
        fh.write(f"{job.name} {job.meta['scheduled_for']} {job.meta.get('team')} "
                 f"{job.meta.get('from')} {job.payload}\\n")
'''


@pytest.fixture
def sched(tmp_path: Path) -> Iterator[Project]:
    project = Project(tmp_path, MANIFEST)
    (tmp_path / "sched_acc.py").write_text(HANDLER, encoding="utf-8")
    yield project
    for worker in project.workers:
        worker.close()


def test_work_fires_the_schedules_of_its_queues(sched: Project) -> None:
    worker = sched.start("main")
    worker.wait_line("scheduler started (tick, nightly)")
    sched.wait_lines("fires.log", lambda lines: len(lines) >= 2)
    line = worker.wait_line("schedule tick fired for ")
    assert " on queue main (" in line and "s late)" in line
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    first = sched.lines("fires.log")[0].split()
    assert first[0] == "tick" and first[2:] == ["data", "queue", "{'n':", "1}"]
    assert datetime.fromisoformat(first[1]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert not any(line.startswith("side.tick") for line in sched.lines("fires.log"))


def test_work_no_schedules_fires_nothing(sched: Project) -> None:
    sched.run("schedule", "run", "--burst")  # the schedules are seen: slots from now on fire
    worker = sched.start("main", "--no-schedules")
    worker.wait_line("worker main started")
    seen = sched.json("schedule", "next", "tick", "--count", "2")[1]
    # Two slots pass while the worker runs (the second one after it started).
    wait_for(lambda: sched.json("schedule", "next", "tick", "--count", "1")[0] > seen,
             "two slots to pass")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert not any("scheduler" in line for line in worker.stderr)
    assert sched.lines("fires.log") == []


def test_schedule_run_and_list(sched: Project) -> None:
    sched.run("schedule", "run", "--burst", "tick")
    (tick, side, nightly) = json.loads(sched.run("schedule", "list", "--json").stdout)
    assert tick == {"name": "tick", "job": "tick", "queue": "main", "when": "every 1s",
                    "timezone": "UTC", "next": tick["next"], "last_slot": None,
                    "last_job": None}
    assert nightly["when"] == "0 2 * * *" and nightly["next"].endswith(("+01:00", "+02:00"))

    def fired() -> bool:
        sched.run("schedule", "run", "--burst", "tick")
        return json.loads(sched.run("schedule", "list", "--json").stdout)[0]["last_job"] is not None

    wait_for(fired, "schedule run --burst to fire a slot")
    (tick, side, _) = json.loads(sched.run("schedule", "list", "--json").stdout)
    assert side["last_slot"] is None  # not named: not fired
    assert sched.queue("main")["pending"] >= 1
    job = json.loads(sched.run("job", tick["last_job"], "--json").stdout)
    assert job["meta"]["schedule"] == "tick"
    assert datetime.fromisoformat(job["meta"]["scheduled_for"]) == datetime.fromisoformat(
        tick["last_slot"])
    table = sched.run("schedule", "list").stdout.splitlines()
    assert table[0].split() == ["SCHEDULE", "JOB", "QUEUE", "WHEN", "TIMEZONE", "NEXT", "LAST"]
    assert table[1].split()[:3] == ["tick", "tick", "main"]
    assert table[1].split()[-1] == tick["last_slot"]


def test_schedule_run_errors_are_one_line(sched: Project) -> None:
    unknown = sched.run("schedule", "run", "tik", ok=False)
    assert (unknown.returncode, unknown.stderr) == (
        1, "runa-runner: error: unknown schedule 'tik' (did you mean 'tick'?)\n")
    manifest = MANIFEST + "  scratch: {job: scratch.tick, every: 1s}\n"
    sched.root.joinpath("jobs.yaml").write_text(manifest, encoding="utf-8")
    memory = sched.run("schedule", "run", "--burst", "scratch", ok=False)
    assert memory.returncode == 1
    assert memory.stderr == (
        "runa-runner: error: queue 'scratch' uses the in-process memory driver 'memory'; a job "
        "fired from the CLI would vanish with this process. Use a sqlite or redis driver for "
        "queue 'scratch'\n")
