"""Rows of the ``jobs`` table that no worker can read (issue 12, findings 5 and 13, on SQLite).

Each hostile row sits between two valid jobs: reserve hands out the valid ones and moves
the hostile one to failed in the same transaction, with "corrupt record: <defect>" and
one WARNING line; ``get``, ``list_failed``, ``retry_failed`` and ``delete`` handle it.
Also: the database file deleted or replaced under an open driver, and numbers that
SQLite cannot store refused at push with a DriverError.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from chaos.hostile import Hostile, body_kinds, column_kinds, insert_sqlite

from runa_runner.drivers.base import Outcome, PushItem
from runa_runner.drivers.sqlite import SQLiteDriver
from runa_runner.errors import DriverError
from runa_runner.job import new_id
from runa_runner.records import UNREADABLE

from .sqlite_procs import QUEUE, envelope

HOSTILE_ID = new_id()
KINDS = body_kinds(HOSTILE_ID, QUEUE, "job", columns=True) + column_kinds(HOSTILE_ID, QUEUE, "job")
#: Retry sets attempt 0 and available_at now, in the columns and the JSON: a row whose
#: only defect was one of those is whole again.
REPAIRED_BY_RETRY = {"attempt-1e400", "column-attempt-text", "column-attempt-inf",
                     "column-available-text", "column-available-inf"}


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[SQLiteDriver]:
    drv = SQLiteDriver(tmp_path / "queue.db")
    await drv.open()
    yield drv
    await drv.close()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("hostile", KINDS, ids=[k.kind for k in KINDS])
async def test_hostile_row_fails_alone_and_stays_manageable(
    driver: SQLiteDriver, tmp_path: Path, hostile: Hostile, caplog: pytest.LogCaptureFixture
) -> None:
    [before] = await driver.push([PushItem(envelope("before"))])
    with sqlite3.connect(tmp_path / "queue.db") as db:
        insert_sqlite(db, HOSTILE_ID, QUEUE, hostile)
    db.close()
    [after] = await driver.push([PushItem(envelope("after"))])

    got = await driver.reserve(QUEUE, 10, 30.0)
    assert sorted(r.envelope.id for r in got) == sorted([before, after])
    [line] = warnings(caplog)
    assert f"of queue '{QUEUE}' moved to failed: corrupt record: " in line
    assert hostile.defect in line

    [failed] = await driver.list_failed(QUEUE)
    job_id = failed.envelope.id  # a row whose id cannot be read was given a new one
    assert job_id == HOSTILE_ID or "id" in hostile.columns
    assert failed.error is not None and failed.error.startswith("corrupt record: ")
    assert hostile.defect in failed.error
    assert failed.envelope.job == UNREADABLE
    assert len(failed.envelope.payload) <= 120  # an escaped preview, short enough for a table
    record = await driver.get(QUEUE, job_id)
    assert record is not None and record.state == "failed" and record.envelope.job == UNREADABLE

    assert await driver.retry_failed(QUEUE, [job_id]) == 1
    again = await driver.reserve(QUEUE, 10, 30.0)
    if hostile.kind in REPAIRED_BY_RETRY:
        assert [r.envelope.id for r in again] == [job_id]
        return
    assert again == []  # it fails again, the same way
    assert len(warnings(caplog)) == 2
    assert await driver.delete(QUEUE, job_id)
    counts = await driver.counts(QUEUE)
    assert (counts.pending, counts.reserved, counts.failed) == (0, 2, 0)


async def test_many_hostile_rows_never_hide_the_valid_job_behind_them(
    driver: SQLiteDriver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reserve of 1 behind 30 hostile rows still returns the valid job (a worker in
    --burst mode takes an empty reserve for an empty queue)."""
    with sqlite3.connect(tmp_path / "queue.db") as db:
        for i in range(30):
            kind = KINDS[i % len(KINDS)]
            insert_sqlite(db, new_id(), QUEUE, kind)
    db.close()
    [valid] = await driver.push([PushItem(envelope("valid"))])
    [got] = await driver.reserve(QUEUE, 1, 30.0)
    assert got.envelope.id == valid
    assert (await driver.counts(QUEUE)).failed == 30
    assert len(warnings(caplog)) == 30


async def test_hostile_reserved_row_with_a_text_lease_is_recovered(
    driver: SQLiteDriver, tmp_path: Path
) -> None:
    [job_id] = await driver.push([PushItem(envelope("x").evolve(max_retries=2))])
    with sqlite3.connect(tmp_path / "queue.db") as db:
        db.execute("UPDATE jobs SET state = 'reserved', lease_until = 'never', token = 't' "
                   "WHERE id = ?", (job_id,))
    db.close()
    [got] = await driver.reserve(QUEUE, 1, 30.0)
    assert got.envelope.id == job_id
    assert await driver.settle([Outcome(QUEUE, job_id, got.token, "ack")]) == [True]


async def test_an_idle_wait_survives_a_text_time(driver: SQLiteDriver, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "queue.db") as db:
        insert_sqlite(db, new_id(), QUEUE, column_kinds(HOSTILE_ID, QUEUE, "job")[2])
    db.close()
    await driver.wait([QUEUE], 0.1)  # next_due sees only 'soon': no TypeError
    assert await driver.reserve(QUEUE, 1, 30.0) == []
    assert (await driver.counts(QUEUE)).failed == 1


@pytest.mark.parametrize("change", ["delete", "replace"])
async def test_database_file_deleted_or_replaced_is_reopened(
    tmp_path: Path, change: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "queue.db"
    drv = SQLiteDriver(path)
    await drv.open()
    try:
        await drv.push([PushItem(envelope("old"))])
        if change == "delete":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:  # another file moved over it, as a restore from backup does
            other = SQLiteDriver(tmp_path / "new.db")
            await other.open()
            await other.push([PushItem(envelope("new"))])
            await other.close()
            os.replace(tmp_path / "new.db", path)
        counts = await drv.counts(QUEUE)
        [warned] = [m for m in warnings(caplog) if "database file" in m]
        assert f"was {change}d while in use; reopening it" in warned
        assert counts.pending == (0 if change == "delete" else 1)
        # What this driver writes now, every other process sees at the path.
        [job_id] = await drv.push([PushItem(envelope("after"))])
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM jobs WHERE id = ?", (job_id,)).fetchone() \
                == (1,)
        db.close()
    finally:
        await drv.close()


async def test_database_file_unchanged_is_not_reopened(
    driver: SQLiteDriver, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(20):
        await driver.push([PushItem(envelope(i))])
    assert (await driver.counts(QUEUE)).pending == 20
    assert warnings(caplog) == []


@pytest.mark.parametrize(("field", "value"), [
    ("max_retries", 2**63 - 1), ("max_retries", 10**400), ("attempt", -1),
    ("retry_delay", float("nan")), ("timeout", float("inf")),
])
async def test_numbers_sqlite_cannot_store_are_refused_at_push(
    driver: SQLiteDriver, field: str, value: object
) -> None:
    env = envelope("x").evolve(**{field: value})
    with pytest.raises(DriverError) as info:
        await driver.push([PushItem(env)])
    assert str(info.value).startswith(f"sqlite: cannot store job {env.id} (job): {field}")
    assert (await driver.counts(QUEUE)).pending == 0


@pytest.mark.parametrize(("option", "value"), [("delay", 10**30), ("unique_for", float("nan"))])
async def test_push_options_out_of_range_are_refused(
    driver: SQLiteDriver, option: str, value: float
) -> None:
    with pytest.raises(DriverError, match=f"cannot store job .*: {option}"):
        await driver.push([PushItem(envelope("x", unique="k"), **{option: value})])  # type: ignore[arg-type]
    assert (await driver.counts(QUEUE)).pending == 0
