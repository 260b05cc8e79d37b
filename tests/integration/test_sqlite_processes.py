"""The SQLite driver shared by several processes at once (spawned, one file).

Reserving processes never get the same job twice and together run every job
exactly once; pushers and reservers can work at the same time; SQLite's
"database is locked" never reaches a caller, even with a tiny busy timeout;
a push committed before a SIGKILL is never lost.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from runa_runner.drivers.base import PushItem
from runa_runner.drivers.sqlite import SQLiteDriver

from . import sqlite_procs
from .sqlite_procs import QUEUE, WORKER, envelope

CTX = multiprocessing.get_context("spawn")
#: Seconds a child may take (spawn start-up included) before the test fails.
CHILD_TIMEOUT = 90


def run_children(path: Path, roles: list[tuple[str, dict[str, Any]]],
                 done: Any = None) -> list[tuple[str, Any]]:
    """Start one process per role, let them go together, return each role's data."""
    barrier = CTX.Barrier(len(roles))
    results = CTX.Queue()
    procs = [
        CTX.Process(target=sqlite_procs.run, args=(role, str(path), barrier, results, done, args))
        for role, args in roles
    ]
    for p in procs:
        p.start()
    try:
        out = [results.get(timeout=CHILD_TIMEOUT) for _ in procs]
    finally:
        for p in procs:
            p.join(CHILD_TIMEOUT)
    errors = [data for _role, status, data in out if status == "error"]
    assert not errors, "\n".join(errors)
    return [(role, data) for role, _status, data in out]


async def fill(path: Path, n: int) -> list[str]:
    driver = SQLiteDriver(path)
    await driver.open()
    ids = await driver.push([PushItem(envelope(i)) for i in range(n)])
    await driver.close()
    return ids


def assert_once(expected: list[str], seen: list[str]) -> None:
    dupes = [i for i, c in Counter(seen).items() if c > 1]
    assert not dupes, f"{len(dupes)} jobs reserved twice"
    assert sorted(seen) == sorted(expected)


@pytest.mark.timeout(180)
async def test_four_reservers_drain_every_job_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    ids = await fill(path, 2000)
    out = run_children(path, [("drain", {})] * 4)
    seen = [i for _role, got in out for i in got]
    assert_once(ids, seen)
    driver = SQLiteDriver(path)
    counts = await driver.counts(QUEUE)
    assert (counts.pending, counts.delayed, counts.reserved, counts.failed) == (0, 0, 0, 0)
    stats = await driver.worker_counts(WORKER)
    # Counters and instances are summed over every process.
    assert (stats.processed, stats.succeeded) == (2000, 2000)
    assert stats.instances == 4
    await driver.close()


@pytest.mark.timeout(180)
async def test_two_pushers_and_two_reservers_at_once(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    await fill(path, 1)  # create the file before the race, like a deployed queue
    done = CTX.Event()
    barrier = CTX.Barrier(4)
    results = CTX.Queue()
    roles: list[tuple[str, dict[str, Any]]] = [
        ("push", {"n": 400, "unique": "same"}), ("push", {"n": 400, "unique": "same"}),
        ("drain", {}), ("drain", {}),
    ]
    procs = [
        CTX.Process(target=sqlite_procs.run, args=(role, str(path), barrier, results, done, args))
        for role, args in roles
    ]
    for p in procs:
        p.start()
    try:
        out: list[tuple[str, Any]] = []
        pushers_left = 2
        while len(out) < len(procs):
            role, status, data = results.get(timeout=CHILD_TIMEOUT)
            assert status == "ok", data
            out.append((role, data))
            if role == "push":
                pushers_left -= 1
                if pushers_left == 0:
                    done.set()  # reservers stop once the queue is empty
    finally:
        done.set()
        for p in procs:
            p.join(CHILD_TIMEOUT)
    pushed = [d for role, d in out if role == "push"]
    assert pushed[0]["unique"] == pushed[1]["unique"]  # one unique job across processes
    expected = [i for d in pushed for i in d["ids"]]
    seen = [i for role, d in out if role == "drain" for i in d]
    assert_once(expected, [i for i in seen if i in set(expected)])
    assert len(seen) == len(expected) + 1  # plus the job made by `fill`
    driver = SQLiteDriver(path)
    counts = await driver.counts(QUEUE)
    assert (counts.pending, counts.delayed, counts.reserved) == (0, 1, 0)  # the unique one
    await driver.close()


@pytest.mark.timeout(180)
async def test_database_is_locked_never_surfaces(tmp_path: Path) -> None:
    """A 1 ms busy timeout forces the driver's own retry path on nearly every write."""
    path = tmp_path / "queue.db"
    await fill(path, 1)
    done = CTX.Event()
    done.set()
    tiny: dict[str, Any] = {"busy_timeout": 0.001}
    out = run_children(path, [
        ("push", {"n": 300, **tiny}), ("push", {"n": 300, **tiny}),
        ("drain", {"batch": 2, **tiny}), ("drain", {"batch": 2, **tiny}),
    ], done)
    pushed = [i for role, d in out if role == "push" for i in d["ids"]]
    assert len(pushed) == 600
    # The reservers may stop before the pushers finish; whatever is left is still there.
    driver = SQLiteDriver(path)
    counts = await driver.counts(QUEUE)
    drained = sum(len(d) for role, d in out if role == "drain")
    assert drained + (counts.pending or 0) == 601
    await driver.close()


@pytest.mark.timeout(120)
async def test_pushes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    await fill(path, 0)
    barrier = CTX.Barrier(1)
    results = CTX.Queue()
    proc = CTX.Process(target=sqlite_procs.run,
                       args=("push_then_die", str(path), barrier, results, None, {"n": 50}))
    proc.start()
    proc.join(CHILD_TIMEOUT)
    assert proc.exitcode == -signal.SIGKILL
    driver = SQLiteDriver(path)
    counts = await driver.counts(QUEUE)
    assert counts.pending == 50
    got = await driver.reserve(QUEUE, 100, 30.0)
    assert sorted(r.envelope.payload for r in got) == list(range(50))
    await driver.close()
