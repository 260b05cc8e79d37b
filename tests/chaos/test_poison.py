"""Poison input: whatever a foreign producer writes, a worker fails it with a reason and
goes on; an oversize payload is refused at push with one clear line.

On each durable driver a worker in ``--burst`` mode must drain the good jobs around
the bad ones and exit 0: a crash or a stall fails the test.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from collections.abc import Callable

import pytest

from runa_runner.job import new_id

from .conftest import DRIVERS
from .harness import Project
from .hostile import Hostile, body_kinds, column_kinds, insert_sqlite
from .inject import QUEUE, envelope, inject

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

LIMIT = 1000
GOOD = 20


def poison() -> dict[str, tuple[str, str]]:
    """job id -> (raw body, text its failure reason must contain)."""
    ids = [new_id() for _ in range(4)]
    return {
        ids[0]: ("{not json at all", "not JSON"),
        ids[1]: (envelope("evil.unknown", {"n": 1}, ids[1]), "unknown job"),
        ids[2]: (envelope("chaos.typed", {"n": "seven"}, ids[2]), "invalid payload: n:"),
        ids[3]: (envelope("chaos.typed", {"n": 1, "pad": "x" * 5000}, ids[3]),
                 f"over queue 'chaos' limit of {LIMIT} bytes"),
    }


@pytest.mark.parametrize("kind", DRIVERS)
def test_poison_goes_to_failed_and_the_worker_goes_on(
    kind: str, project_for: Callable[..., Project], redis_url: str, amqp_url: str,
    postgres_url: str,
) -> None:
    project = project_for(kind, retry=3, queue_extra=f", max_payload_bytes: {LIMIT}")
    first = project.push_jsonl("chaos.typed", [{"n": i} for i in range(GOOD // 2)])
    bad = poison()
    inject(project, {job_id: body for job_id, (body, _) in bad.items()}, redis_url, amqp_url,
           postgres_url)
    later = project.push_jsonl("chaos.typed", [{"n": i} for i in range(GOOD // 2)])

    worked = project.run("work", "w", "--burst", timeout=60)
    assert "Traceback" not in worked.stderr

    ran = {job_id for job_id, _ in project.runs()}
    assert ran == set(first + later)
    failed = {rec["id"]: rec for rec in json.loads(
        project.run("failed", "list", "chaos", "--json").stdout)}
    print(f"\npoison[{kind}]: " + "; ".join(f"{rec['error']}" for rec in failed.values()))
    assert len(failed) == len(bad)
    for job_id, (_, reason) in bad.items():
        if job_id in failed:
            error = failed[job_id]["error"]
        else:  # a body too broken to carry its id is listed under the one the driver gave it
            error = next(r["error"] for i, r in failed.items() if i not in bad)
        assert reason in error, (reason, error)
    queue = project.queue()
    assert queue["pending"] == 0 and queue["failed"] == len(bad)


@pytest.mark.parametrize("kind", DRIVERS)
def test_oversize_payload_is_refused_at_push(
    kind: str, project_for: Callable[..., Project]
) -> None:
    project = project_for(kind, queue_extra=f", max_payload_bytes: {LIMIT}")
    refused = project.run("push", "chaos.typed", "--json",
                          json.dumps({"n": 1, "pad": "x" * LIMIT}), ok=False)
    assert refused.returncode == 1
    assert refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert f"over queue 'chaos' limit of {LIMIT} bytes" in line
    assert line.startswith("chaos.typed: ")
    queue = project.queue()
    assert queue["pending"] == 0


#: Valid jobs and hostile records of a poisoned queue (issue 12's acceptance).
VALID, HOSTILE, ROUNDS = 1000, 50, 5


def hostile_records(kind: str, count: int) -> dict[str, Hostile]:
    """``count`` hostile records cycling over every kind the driver can hold, by job id."""
    out: dict[str, Hostile] = {}
    while len(out) < count:
        job_id = new_id()
        kinds = body_kinds(job_id, QUEUE, "chaos.run", columns=kind == "sqlite")
        if kind == "sqlite":
            kinds += column_kinds(job_id, QUEUE, "chaos.run")
        out[job_id] = kinds[len(out) % len(kinds)]
    return out


def store_hostile(project: Project, records: dict[str, Hostile], amqp_url: str) -> None:
    if project.target.kind == "sqlite":
        with sqlite3.connect(project.root / "queue.db") as db:
            for job_id, hostile in records.items():
                insert_sqlite(db, job_id, QUEUE, hostile)
        db.close()
    else:
        asyncio.run(publish(amqp_url, f"chaos.{project.target.tag}.{QUEUE}", records))


async def publish(url: str, work_queue: str, records: dict[str, Hostile]) -> None:
    import aio_pika

    conn = await aio_pika.connect(url)
    try:
        channel = await conn.channel(publisher_confirms=True)
        for job_id, hostile in records.items():
            await channel.default_exchange.publish(
                aio_pika.Message(hostile.body, message_id=job_id,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=work_queue, mandatory=True)
    finally:
        await conn.close()


@pytest.mark.parametrize("kind", ["sqlite", "amqp"])
def test_poisoned_queue_runs_every_valid_job_once(
    kind: str, project_for: Callable[..., Project], amqp_url: str
) -> None:
    """1,000 valid jobs with 50 hostile records of every kind mixed in: each valid job runs
    exactly once, the 50 are in failed with their defect, the worker exits 0, and no
    output holds a traceback."""
    project = project_for(kind, retry=0)
    hostile = hostile_records(kind, HOSTILE)
    valid: list[str] = []
    batches = [dict(list(hostile.items())[i::ROUNDS]) for i in range(ROUNDS)]
    for batch in batches:
        valid += project.push_jsonl("chaos.run", [{"n": i} for i in range(VALID // ROUNDS)])
        store_hostile(project, batch, amqp_url)

    worked = project.run("work", "w", "--burst", timeout=240)
    warned = [ln for ln in worked.stderr.splitlines() if "moved to failed" in ln]
    assert len(warned) == HOSTILE, worked.stderr[-3000:]
    assert all("corrupt record: " in ln for ln in warned)

    runs = Counter(job_id for job_id, _ in project.runs())
    assert set(runs) == set(valid) and len(valid) == VALID
    assert max(runs.values()) == 1, "a valid job ran twice"

    failed = {rec["id"]: rec for rec in json.loads(
        project.run("failed", "list", QUEUE, "--json").stdout)}
    assert len(failed) == HOSTILE
    renamed = [i for i in failed if i not in hostile]  # ids that could not be read
    for job_id, bad in hostile.items():
        if job_id in failed:
            assert bad.defect in failed[job_id]["error"], (bad.kind, failed[job_id])
        else:
            assert "id" in bad.columns
    assert all(failed[i]["error"].startswith("corrupt record: ") for i in renamed)
    queue = project.queue(QUEUE)
    assert queue["pending"] == 0 and queue["failed"] == HOSTILE

    # Each is shown and handled by id, and the table fits them.
    some = sorted(failed)[0]
    shown = project.run("job", some)
    assert "<unreadable record>" in shown.stdout
    project.run("failed", "list", QUEUE)
    project.run("failed", "delete", QUEUE, some)
    assert project.queue(QUEUE)["failed"] == HOSTILE - 1
    leaked = [out for out in project.outputs if "Traceback" in out]
    assert leaked == []
