"""SQLite counts the failed store from a trigger-kept row, not by scanning it (DESIGN §12:
a million failed jobs must not make every overview slow): the number follows every way
a job enters or leaves failed, a file made before the table existed gains it filled, and
a stored value that is not a count reads as unknown, not as a guess."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from runa_runner.drivers.base import Outcome, PushItem
from runa_runner.drivers.sqlite import SQLiteDriver
from runa_runner.job import Envelope, new_id

from .sqlite_procs import QUEUE

OTHER = "other"


def scanned(path: Path) -> dict[str, int]:
    """Failed jobs per queue, counted the slow way."""
    with sqlite3.connect(path) as raw:
        return dict(raw.execute(
            "SELECT queue, count(*) FROM jobs WHERE state = 'failed' GROUP BY queue"))


async def fail(driver: SQLiteDriver, queue: str, n: int) -> list[str]:
    await driver.push([PushItem(Envelope(new_id(), queue, "job", i)) for i in range(n)])
    reserved = await driver.reserve(queue, n, 30.0)
    await driver.settle([Outcome(queue, r.envelope.id, r.token, "fail", error="boom")
                         for r in reserved])
    return [r.envelope.id for r in reserved]


async def test_the_failed_count_follows_every_move(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    driver = SQLiteDriver(path)
    await driver.open()
    try:
        ids = await fail(driver, QUEUE, 6)
        await fail(driver, OTHER, 2)
        assert (await driver.counts(QUEUE)).failed == 6 == scanned(path)[QUEUE]
        assert await driver.retry_failed(QUEUE, ids[:2]) == 2          # leave by retry
        assert await driver.delete(QUEUE, ids[2])                      # leave by delete
        assert (await driver.counts(QUEUE)).failed == 3
        reserved = await driver.reserve(QUEUE, 2, 30.0)                # re-enter by fail
        await driver.settle([Outcome(QUEUE, r.envelope.id, r.token, "fail", error="again")
                             for r in reserved])
        assert (await driver.counts(QUEUE)).failed == 5 == scanned(path)[QUEUE]
        assert await driver.purge_failed(QUEUE) == 5
        assert (await driver.counts(QUEUE)).failed == 0
        assert (await driver.counts(OTHER)).failed == 2
        await fail(driver, QUEUE, 1)
        assert await driver.purge(QUEUE) == 1
        assert (await driver.counts(QUEUE)).failed == 0
        assert (await driver.counts("never-used")).failed == 0
    finally:
        await driver.close()


async def test_a_file_without_the_table_gains_it_filled(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    driver = SQLiteDriver(path)
    await driver.open()
    await fail(driver, QUEUE, 3)
    await driver.close()
    with sqlite3.connect(path) as raw:  # as a file from before failed_counts existed
        for trigger in ("insert", "enter", "leave", "delete"):
            raw.execute(f"DROP TRIGGER failed_counts_{trigger}")
        raw.execute("DROP TABLE failed_counts")
    again = SQLiteDriver(path)
    await again.open()
    try:
        assert (await again.counts(QUEUE)).failed == 3
        await fail(again, QUEUE, 1)
        assert (await again.counts(QUEUE)).failed == 4 == scanned(path)[QUEUE]
    finally:
        await again.close()


async def test_a_stored_value_that_is_not_a_count_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    driver = SQLiteDriver(path)
    await driver.open()
    try:
        await fail(driver, QUEUE, 1)
        for hostile in ("'many'", "-3", "2.5"):
            with sqlite3.connect(path) as raw:
                raw.execute(f"UPDATE failed_counts SET n = {hostile} WHERE queue = ?", (QUEUE,))
            counts = await driver.counts(QUEUE)
            assert counts.failed is None and counts.pending == 0
    finally:
        await driver.close()
