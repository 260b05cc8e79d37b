"""Pause and flow control with real ``runa-runner work`` processes (DESIGN §14).

Three worker processes share one queue; the handlers append their start and end times
to ``out/flow.log`` (one ``write`` per line, O_APPEND: lines from several processes never
mix), and the tests measure what the limits promise from those times alone.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import Project, Worker, drop_redis_keys, drop_schema

HANDLERS = '''\
import asyncio
import os
import time


def _log(kind, job):
    line = f"{kind} {job.name} {job.id} {job.attempt} {time.time():.6f}\\n".encode()
    os.makedirs("out", exist_ok=True)
    fd = os.open("out/flow.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)

async def slow(job):
    _log("start", job)
    await asyncio.sleep(0.3)
    _log("end", job)

async def tick(job):
    _log("start", job)

async def hang(job):
    _log("start", job)
    if job.attempt == 1:  # the first run's worker is killed while it waits here
        await asyncio.sleep(60)
'''


MANIFEST = """\
default_driver: local
drivers:
  local: {driver}
queues:
  capped: {{workers: [pool], max_running: 2}}
  paced: {{workers: [pool], rate: "10/1s"}}
  single: {{workers: [pool], max_running: 1, retry: 3}}
workers:
  pool: {{concurrency: 4, lease: 1s, poll_interval: 50ms}}
jobs:
  slow: {{handler: "flow_handlers:slow", queue: capped}}
  tick: {{handler: "flow_handlers:tick", queue: paced}}
  hang: {{handler: "flow_handlers:hang", queue: single}}
  quick: {{handler: "flow_handlers:tick", queue: single}}
"""


LEASE = 1.0


@pytest.fixture(params=["sqlite", "redis", "postgres"])


def flow_project(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str,
                 postgres_url: str, require_service: Callable[[str], None]) -> Iterator[Project]:
    uid = uuid.uuid4().hex[:12]
    driver = "{type: sqlite, path: .runa/queue.db}"
    if request.param == "redis":
        require_service("redis")
        driver = f'{{type: redis, url: "{redis_url}", prefix: "accflow:{uid}:"}}'
    elif request.param == "postgres":
        require_service("postgres")
        driver = f'{{type: postgres, url: "{postgres_url}", schema: accflow_{uid}}}'
    p = Project(tmp_path, MANIFEST.format(driver=driver))
    (tmp_path / "flow_handlers.py").write_text(HANDLERS, encoding="utf-8")
    yield p
    for worker in p.workers:
        worker.close()
    if request.param == "redis":
        drop_redis_keys(redis_url, f"*accflow:{uid}:*")
    elif request.param == "postgres":
        drop_schema(postgres_url, f"accflow_{uid}")


def events(p: Project) -> list[tuple[str, str, str, int, float]]:
    """(kind, job name, id, attempt, time) per line of out/flow.log."""
    out = []
    for line in p.lines("flow.log"):
        kind, name, job_id, attempt, at = line.split()
        out.append((kind, name, job_id, int(attempt), float(at)))
    return out


def push_many(p: Project, job: str, n: int) -> None:
    p.run("push", job, "--jsonl", "-", stdin="{}\n" * n)


def three_workers(p: Project) -> list[Worker]:
    workers = [p.start("pool") for _ in range(3)]
    for w in workers:
        w.wait_line("worker pool started")
    return workers


def max_overlap(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.slow
def test_max_running_holds_across_three_worker_processes(flow_project: Project) -> None:
    p = flow_project
    three_workers(p)
    push_many(p, "slow", 8)
    p.wait_lines("flow.log", lambda lines: sum(ln.startswith("end ") for ln in lines) == 8)
    starts = {e[2]: e[4] for e in events(p) if e[0] == "start"}
    ends = {e[2]: e[4] for e in events(p) if e[0] == "end"}
    assert len(starts) == 8
    assert max_overlap([(starts[i], ends[i]) for i in starts]) == 2


#: Seconds between a job's reservation and its handler's first line, at most, on a loaded
#: machine (what the handlers measure is the start, the driver counts the reservation).
START_JITTER = 0.25


@pytest.mark.slow
def test_rate_of_ten_a_second_across_three_worker_processes(flow_project: Project) -> None:
    p = flow_project
    three_workers(p)
    push_many(p, "tick", 25)
    p.wait_lines("flow.log", lambda lines: len(lines) == 25)
    times = sorted(e[4] for e in events(p))
    # No second holds more than 10 starts. The driver spaces reservations exactly; a
    # handler starts a little after its reservation (a batch's last job later than its
    # first, and a loaded machine delays a process by a few hundred ms), so a window is
    # shortened by that much.
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u < t + 1.0 - START_JITTER) <= 10, times
    # ... and the limit is reached: 25 starts are 3 windows, 10 + 10 + 5.
    assert 2.0 - START_JITTER <= times[-1] - times[0] <= 6.0, times
    assert times[9] - times[0] < 1.0


@pytest.mark.slow
def test_a_killed_worker_frees_its_slot_within_one_lease(flow_project: Project) -> None:
    p = flow_project
    doomed = p.start("pool")
    doomed.wait_line("worker pool started")
    p.push("hang", {})
    p.wait_lines("flow.log", lambda lines: len(lines) == 1)  # the only slot is taken
    quick = p.push("quick", {})
    survivor = p.start("pool")
    survivor.wait_line("worker pool started")
    held = p.json("job", quick)
    assert held["state"] == "pending" and held["held"] == "max_running 1 reached"
    doomed.signal(signal.SIGKILL)
    killed = time.time()
    doomed.wait()
    lines = p.wait_lines("flow.log", lambda ls: any(f" quick {quick} " in ln for ln in ls))
    started = next(float(ln.split()[-1]) for ln in lines if f" quick {quick} " in ln)
    # The lease lapses at most LEASE after the kill; the survivor looks every 50ms.
    assert started - killed < LEASE + 0.5


def test_pause_resume_and_list_across_processes(flow_project: Project) -> None:
    p = flow_project
    assert p.run("queue", "pause", "paced").stdout == "queue 'paced' paused\n"
    assert p.run("queue", "pause", "paced").stdout == "queue 'paced' was already paused\n"
    worker = p.start("pool")
    worker.wait_line("worker pool started")
    job_id = p.push("tick", {})
    table = p.run("list").stdout.splitlines()
    assert table[0].split()[-1] == "FAILED"  # the seed's headers, unchanged
    row = next(line.split() for line in table if line.startswith("paced "))
    assert row[-1] == "PAUSED" and row[3] == "1"
    assert not any(line.endswith("PAUSED") for line in table if line.startswith("capped "))
    paused = {q["name"]: q["paused"] for q in p.json("list")["queues"]}
    assert paused == {"capped": False, "paced": True, "single": False}
    info = json.loads(p.run("job", job_id, "--json").stdout)
    assert info["held"] == "queue paused"
    assert p.lines("flow.log") == []  # a paused queue really is left alone meanwhile
    assert p.run("queue", "resume", "paced").stdout == "queue 'paced' resumed\n"
    p.wait_lines("flow.log", lambda lines: len(lines) == 1)
    assert p.run("queue", "resume", "paced").stdout == "queue 'paced' was not paused\n"


def test_queue_command_errors(flow_project: Project) -> None:
    p = flow_project
    bad = p.run("queue", "pause", "pacde", ok=False)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr == ("runa-runner: error: unknown queue 'pacde' "
                          "(did you mean 'paced'?)\n")
    usage = p.run("queue", "stop", "paced", ok=False)
    assert usage.returncode == 2


def test_amqp_queue_cannot_pause_and_validate_refuses_limits(
    tmp_path: Path, amqp_url: str, require_service: Callable[[str], None],
) -> None:
    manifest = f"""\
drivers:
  rabbit: {{type: amqp, url: "{amqp_url}", prefix: "accflow{uuid.uuid4().hex[:8]}."}}
queues:
  mail: {{driver: rabbit, workers: [w]}}
  bulk: {{driver: rabbit, workers: [w], max_running: 2, rate: 5/1m}}
workers:
  w: {{}}
"""
    p = Project(tmp_path, manifest)
    out = p.run("validate", "--no-import", ok=False)
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        "jobs.yaml:5:53: queues.bulk.max_running: driver 'rabbit' (type amqp) cannot do "
        "max_running (flow control) (it lacks the 'flow_control' capability)",
        "jobs.yaml:5:62: queues.bulk.rate: driver 'rabbit' (type amqp) cannot do "
        "rate (flow control) (it lacks the 'flow_control' capability)",
    ]
    p.root.joinpath("jobs.yaml").write_text(manifest.replace(
        ", max_running: 2, rate: 5/1m", ""), encoding="utf-8")
    bad = p.run("queue", "pause", "mail", ok=False)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr == "runa-runner: error: driver 'amqp' does not support pausing queues\n"


def test_validate_names_a_bad_rate_and_max_running(tmp_path: Path) -> None:
    p = Project(tmp_path, """\
queues:
  a: {rate: "10/2s", max_running: 0}
""")
    out = p.run("validate", "--no-import", ok=False)
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        "jobs.yaml:2:13: queues.a.rate: expected a rate like '10/1s' (N starts per 1s, "
        "1m or 1h, N from 1 to 100,000), got '10/2s'",
        "jobs.yaml:2:35: queues.a.max_running: expected an integer between 1 and "
        "1,000,000, got 0",
    ]
