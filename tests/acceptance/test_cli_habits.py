"""CLI habits (issue 18, point 5): ``--version``, ``work --concurrency``, ``push`` without
``--json``, the note of a unique push that hits a queued job, ``failed list``'s FAILED AT
and traceback, and the round-robin order of a worker's queues; on SQLite, Redis and
PostgreSQL where the driver matters."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import pty
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .conftest import EXE, Project, drop_redis_keys, drop_schema, environment

MANIFEST = """\
drivers:
  local: {DRIVER}
queues:
  main: {driver: local, workers: [main]}
  first: {driver: local, workers: [rr]}
  idle: {driver: local, workers: [rr]}
  second: {driver: local, workers: [rr]}
workers:
  main: {concurrency: 1, poll_interval: 50ms}
  rr: {concurrency: 1, poll_interval: 50ms}
jobs:
  overlap: {handler: "habit_handlers:overlap", queue: main}
  defaults: {handler: "habit_handlers:defaults", queue: main}
  needs: {handler: "habit_handlers:needs", queue: main}
  mapping: {handler: "habit_handlers:mapping", queue: main}
  anything: {handler: "habit_handlers:anything", queue: main}
  bare: {handler: "habit_handlers:bare", queue: main}
  boom: {handler: "habit_handlers:boom", queue: main, retry: 0}
  visit.first: {handler: "habit_handlers:visit", queue: first}
  visit.second: {handler: "habit_handlers:visit", queue: second}
"""
NOTE = "runa-runner: note: already queued"


def make_project(root: Path, driver: str) -> Project:
    root.joinpath("jobs.yaml").write_text(MANIFEST.replace("{DRIVER}", driver), "utf-8")
    shutil.copy(Path(__file__).with_name("habits_handlers_src.py"), root / "habit_handlers.py")
    return Project(root, manifest=None)


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Iterator[Project]:
    p = make_project(tmp_path, "{type: sqlite, path: .runa/queue.db}")
    yield p
    for worker in p.workers:
        worker.close()


#: The queues and worker pools of MANIFEST (what an AMQP test leaves on the broker).
QUEUES = ("main", "first", "idle", "second")
POOLS = ("main", "rr")


@pytest.fixture(params=["sqlite", "redis", "postgres", "amqp"])
def habits(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, postgres_url: str,
           amqp_url: str, require_service: Callable[[str], None]) -> Iterator[Project]:
    """The habits project on each durable driver (a key prefix, schema or queue prefix of
    its own, removed after)."""
    name = f"habits_{uuid.uuid4().hex[:10]}"
    driver = {
        "sqlite": "{type: sqlite, path: .runa/queue.db}",
        "redis": f'{{type: redis, url: "{redis_url}", prefix: "{name}:"}}',
        "postgres": f'{{type: postgres, url: "{postgres_url}", schema: {name}}}',
        "amqp": f'{{type: amqp, url: "{amqp_url}", prefix: "{name}.", exchange: "{name}"}}',
    }[request.param]
    if request.param != "sqlite":
        require_service(request.param)
    p = make_project(tmp_path, driver)
    yield p
    for worker in p.workers:
        worker.close()
    if request.param == "redis":
        drop_redis_keys(redis_url, f"{{{name}:*")
    elif request.param == "amqp":
        asyncio.run(drop_amqp(amqp_url, name))
    elif request.param == "postgres":
        drop_schema(postgres_url, name)


async def drop_amqp(url: str, name: str) -> None:
    """Delete the RabbitMQ queues and exchange a test under prefix ``name.`` may have made."""
    import aio_pika

    from runa_runner.drivers.amqp import names

    conn = await aio_pika.connect(url)
    try:
        channel = await conn.channel()
        for queue in QUEUES:
            await channel.queue_delete(names.work_queue(f"{name}.", queue))
            await channel.queue_delete(names.failed_queue(f"{name}.", queue))
        for pool in POOLS:
            await channel.queue_delete(names.stats_queue(f"{name}.", pool))
            await channel.queue_delete(names.workers_queue(f"{name}.", pool))
        await channel.exchange_delete(name)
    finally:
        await conn.close()


# ---- --version -------------------------------------------------------------------------

def test_version_prints_the_installed_distributions_version(sqlite_project: Project) -> None:
    done = sqlite_project.run("--version")

    assert done.stdout == f"runa-runner {importlib.metadata.version('runa-runner')}\n"
    assert done.stderr == ""


# ---- work --concurrency ------------------------------------------------------------------

def test_work_concurrency_overrides_the_pools(habits: Project) -> None:
    # The manifest's pool runs one job at a time: only 3 at once pass the handlers' barrier.
    for tag in "abc":
        habits.push("overlap", {"tag": tag, "together": 3})

    habits.run("work", "main", "--concurrency", "3", "--burst")

    lines = habits.lines("overlap.log")
    assert [line.split()[0] for line in lines] == ["start"] * 3 + ["end"] * 3
    starts = [float(line.split()[2]) for line in lines[:3]]
    ends = [float(line.split()[2]) for line in lines[3:]]
    assert max(starts) < min(ends)  # all three ran at the same time


@pytest.mark.parametrize("value", ["0", "10001", "-1", "three", "1.5"])
def test_work_concurrency_out_of_range_is_a_usage_error(sqlite_project: Project,
                                                        value: str) -> None:
    done = sqlite_project.run("work", "main", "--concurrency", value, "--burst", ok=False)

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"runa-runner work: error: argument --concurrency: expected a whole number between 1 "
        f"and 10,000, got '{value}' (see 'runa-runner work --help')"]


# ---- push without --json -------------------------------------------------------------------

@pytest.mark.parametrize(("job", "ran"), [
    ("defaults", "defaults nobody 1"),
    ("mapping", "mapping {}"),
    ("anything", "anything {}"),
    ("bare", "bare {}"),
])
def test_push_without_json_pushes_an_empty_object(sqlite_project: Project, job: str,
                                                  ran: str) -> None:
    done = sqlite_project.run("push", job)
    job_id = done.stdout.strip()

    assert done.stderr == ""
    assert sqlite_project.json("job", job_id)["state"] == "pending"
    sqlite_project.run("work", "main", "--burst")
    assert sqlite_project.lines("empty.log") == [ran]


def test_push_without_json_refuses_a_payload_type_with_required_fields(
    sqlite_project: Project,
) -> None:
    done = sqlite_project.run("push", "needs", ok=False)

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "runa-runner: error: push needs: a payload is required (--json TEXT|@FILE|-): {} is "
        "refused: text: Field required"]
    assert sqlite_project.queue("main")["pending"] == 0


def test_push_without_json_never_reads_a_terminal_stdin(sqlite_project: Project) -> None:
    # A terminal stdin nobody types into: a read would hang until the timeout.
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([EXE, "push", "defaults"], cwd=sqlite_project.root,
                              env=environment(), stdin=follower, capture_output=True,
                              text=True, timeout=30, check=False)
    finally:
        os.close(follower)
        os.close(leader)

    assert done.returncode == 0, done.stderr
    assert sqlite_project.json("job", done.stdout.strip())["payload"] == {"name": "nobody",
                                                                          "rows": 1}


# ---- a unique push that hits a queued job --------------------------------------------------

def test_unique_push_on_a_queued_job_prints_its_id_and_a_note(habits: Project) -> None:
    if "type: amqp" in habits.root.joinpath("jobs.yaml").read_text("utf-8"):
        refused = habits.run("push", "needs", "--json", '{"text": "a"}', "--unique", "k1",
                             ok=False)
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.splitlines() == [
            "runa-runner: error: driver 'amqp' does not support unique jobs"]
        return
    first = habits.run("push", "needs", "--json", '{"text": "a"}', "--unique", "k1")
    again = habits.run("push", "needs", "--json", '{"text": "b"}', "--unique", "k1")
    other = habits.run("push", "needs", "--json", '{"text": "c"}', "--unique", "k2")

    assert first.stderr == "" and other.stderr == ""
    assert again.stdout == first.stdout  # the queued job's id, as a fresh push prints its own
    assert again.stderr.splitlines() == [NOTE]
    assert other.stdout != first.stdout
    assert habits.queue("main")["pending"] == 2

    habits.run("work", "main", "--burst")  # done: the key is free again
    after = habits.run("push", "needs", "--json", '{"text": "d"}', "--unique", "k1")
    assert after.stderr == "" and after.stdout != first.stdout


# ---- failed list ---------------------------------------------------------------------------

def test_failed_list_shows_when_the_job_failed_and_its_traceback(habits: Project) -> None:
    job_id = habits.push("boom", {"text": "x"})
    before = time.time()
    habits.run("work", "main", "--burst")
    after = time.time()

    [item] = habits.json("failed", "list", "main")
    assert item["id"] == job_id
    assert before - 2 <= item["failed_at"] <= after + 2  # the server's clock, where one is
    assert "RuntimeError: boom x" in item["traceback"]
    assert item["traceback"].startswith("Traceback (most recent call last):")

    table = habits.run("failed", "list", "main").stdout.splitlines()
    header = table[0]
    assert header.split() == ["ID", "JOB", "ATTEMPTS", "ENQUEUED", "FAILED", "AT", "ERROR"]
    column = header.index("FAILED AT")
    shown = table[1][column:column + 20]
    assert shown == datetime.fromtimestamp(item["failed_at"], tz=UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


# ---- round-robin over a worker's queues ----------------------------------------------------

def test_a_workers_queues_take_turns_in_their_declared_order(habits: Project) -> None:
    # Both queues are full before the worker starts; `idle`, declared between them, is
    # empty and must not give either of them an extra turn.
    for i in range(4):
        habits.push("visit.first", {"tag": str(i)})
    for i in range(4):
        habits.push("visit.second", {"tag": str(i)})

    habits.run("work", "rr", "--burst")

    assert habits.lines("visits.log") == [
        "first 0", "second 0", "first 1", "second 1",
        "first 2", "second 2", "first 3", "second 3",
    ]


def test_failed_list_json_of_a_queue_without_failures_is_empty(sqlite_project: Project) -> None:
    assert json.loads(sqlite_project.run("failed", "list", "main", "--json").stdout) == []
