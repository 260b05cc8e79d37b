"""The SQLite driver's own promises, beyond the shared contract suite (tests/contract).

Durability across close/reopen, a corrupt row failing instead of crashing
reserve, clear errors naming the file, the manifest keys, a write lock held by
someone else, and an idle ``wait`` that sleeps until work is due.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runa_runner.drivers import create_driver
from runa_runner.drivers.base import LEASE_LOST, Capability, Outcome, PushItem, StatsDelta
from runa_runner.drivers.sqlite import SQLiteDriver
from runa_runner.errors import ConfigError, DriverError, DriverUnavailable

from .sqlite_procs import QUEUE, envelope


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[SQLiteDriver]:
    drv = SQLiteDriver(tmp_path / "queue.db")
    await drv.open()
    yield drv
    await drv.close()


def test_capabilities_and_description(tmp_path: Path) -> None:
    drv = SQLiteDriver(tmp_path / "q.db")
    assert Capability.CROSS_PROCESS in drv.capabilities
    assert Capability.WAKE not in drv.capabilities
    assert drv.capabilities == SQLiteDriver.CAPABILITIES
    info = drv.describe()
    assert (info.type, info.target) == ("sqlite", str(tmp_path / "q.db"))


async def test_file_and_folder_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "queue.db"
    drv = SQLiteDriver(path)
    await drv.open()
    await drv.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 2


async def test_close_and_reopen_keeps_every_state(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    first = SQLiteDriver(path)
    await first.open()
    ids = await first.push([PushItem(envelope(i)) for i in range(3)])
    [delayed] = await first.push([PushItem(envelope("later"), delay=60)])
    [held, failing] = await first.reserve(QUEUE, 2, 60.0)
    await first.settle([Outcome(QUEUE, failing.envelope.id, failing.token, "fail", error="boom")])
    await first.add_stats("w", StatsDelta(1, 2, 3))
    await first.close()

    second = SQLiteDriver(path)
    await second.open()
    counts = await second.counts(QUEUE)
    assert (counts.pending, counts.delayed, counts.reserved, counts.failed) == (1, 1, 1, 1)
    assert (await second.get(QUEUE, delayed)).state == "delayed"  # type: ignore[union-attr]
    [failed] = await second.list_failed(QUEUE)
    assert (failed.envelope.id, failed.error) == (ids[1], "boom")
    # The reservation's token still fences the job after a reopen.
    assert await second.renew(QUEUE, held.envelope.id, held.token, 60.0)
    assert await second.settle([Outcome(QUEUE, held.envelope.id, held.token, "ack")]) == [True]
    stats = await second.worker_counts("w")
    assert (stats.processed, stats.succeeded, stats.failed, stats.retried) == (6, 1, 2, 3)
    await second.close()


async def test_lapsed_lease_after_a_crash_is_recovered_by_another_instance(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    crashed = SQLiteDriver(path)
    await crashed.open()
    [job_id] = await crashed.push([PushItem(envelope("x").evolve(max_retries=1))])
    [first] = await crashed.reserve(QUEUE, 1, 0.2)
    # The worker "dies": no ack, no close. Another instance waits for the lapse (wait
    # wakes at the lease deadline) and gets the job again, attempt 2.
    other = SQLiteDriver(path)
    await other.open()
    await other.wait([QUEUE], 5.0)
    [again] = await other.reserve(QUEUE, 1, 0.2)
    assert (again.envelope.id, again.envelope.attempt) == (job_id, 2)
    assert await crashed.settle([Outcome(QUEUE, job_id, first.token, "ack")]) == [False]
    # Lapsing on the last attempt fails the job with LEASE_LOST.
    await other.wait([QUEUE], 5.0)
    record = await other.get(QUEUE, job_id)
    assert record is not None
    assert (record.state, record.error) == ("failed", LEASE_LOST)
    await crashed.close()
    await other.close()


async def test_corrupt_row_goes_to_failed_and_reserve_goes_on(
    driver: SQLiteDriver, tmp_path: Path
) -> None:
    ids = await driver.push([PushItem(envelope(i)) for i in range(4)])
    with sqlite3.connect(tmp_path / "queue.db") as raw:
        raw.execute("UPDATE jobs SET envelope = '{not json' WHERE id = ?", (ids[1],))
        raw.execute("UPDATE jobs SET envelope = '[1, 2]' WHERE id = ?", (ids[2],))
    got = await driver.reserve(QUEUE, 10, 30.0)
    assert [r.envelope.id for r in got] == [ids[0], ids[3]]
    failed = await driver.list_failed(QUEUE)
    assert [f.envelope.id for f in failed] == [ids[1], ids[2]]
    assert all(f.error and f.error.startswith("corrupt record: ") for f in failed)
    assert "not JSON" in (failed[0].error or "")
    assert failed[0].traceback == "raw envelope: {not json"
    counts = await driver.counts(QUEUE)
    assert (counts.pending, counts.reserved, counts.failed) == (0, 2, 2)
    # Retrying a corrupt job brings it back, and it fails again the same way.
    assert await driver.retry_failed(QUEUE, [ids[1]]) == 1
    assert await driver.reserve(QUEUE, 10, 30.0) == []
    assert (await driver.counts(QUEUE)).failed == 2


async def test_envelope_of_another_job_is_corrupt(driver: SQLiteDriver, tmp_path: Path) -> None:
    [a, b] = await driver.push([PushItem(envelope(0)), PushItem(envelope(1))])
    with sqlite3.connect(tmp_path / "queue.db") as raw:
        body = raw.execute("SELECT envelope FROM jobs WHERE id = ?", (a,)).fetchone()[0]
        raw.execute("UPDATE jobs SET envelope = ? WHERE id = ?", (body, b))
    [got] = await driver.reserve(QUEUE, 10, 30.0)
    assert got.envelope.id == a
    [bad] = await driver.list_failed(QUEUE)
    assert bad.envelope.id == b
    assert bad.error == f"corrupt record: envelope says id {a!r} but is stored as {b!r}"


async def test_write_lock_held_elsewhere_only_delays(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    drv = SQLiteDriver(path, busy_timeout=0.01)
    await drv.open()
    raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    raw.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(0.3, lambda: raw.execute("COMMIT"))
    timer.start()
    try:
        started = time.monotonic()
        [job_id] = await drv.push([PushItem(envelope("x"))])
        assert time.monotonic() - started >= 0.25  # it waited for the lock, then went through
        assert (await drv.get(QUEUE, job_id)) is not None
    finally:
        timer.join()
        raw.close()
        await drv.close()


async def test_unopenable_path_is_driver_unavailable_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(DriverUnavailable, match=re.escape(f"cannot open database file {folder}")):
        await SQLiteDriver(folder).open()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    message = re.escape(f"cannot open database file {blocker}/q.db")
    with pytest.raises(DriverUnavailable, match=message):
        await SQLiteDriver(blocker / "q.db").open()


async def test_not_a_database_is_driver_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database, just some text" * 100)
    with pytest.raises(DriverUnavailable, match=re.escape(f"cannot open database file {path}: ")):
        await SQLiteDriver(path).open()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    with pytest.raises(DriverError, match="schema version 99, newer than"):
        await SQLiteDriver(path).open()


async def test_sqlite_errors_are_wrapped(driver: SQLiteDriver, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "queue.db") as raw:
        raw.execute("DROP TABLE worker_stats")
    with pytest.raises(DriverError, match=r"sqlite: worker_counts on .* failed: no such table"):
        await driver.worker_counts("w")


async def test_first_call_opens_lazily_and_close_twice_is_fine(tmp_path: Path) -> None:
    drv = SQLiteDriver(tmp_path / "queue.db")
    assert (await drv.counts(QUEUE)).pending == 0
    await drv.close()
    await drv.close()


def test_from_config_resolves_path_against_the_manifest_folder(tmp_path: Path) -> None:
    drv = create_driver("sqlite", {"path": "data/q.db", "busy_timeout": "250ms"}, tmp_path)
    assert isinstance(drv, SQLiteDriver)
    assert drv.path == tmp_path / "data" / "q.db"
    default = SQLiteDriver.from_config({}, tmp_path)
    assert default.path == tmp_path / ".runa" / "queue.db"
    absolute = SQLiteDriver.from_config({"path": str(tmp_path / "abs.db")}, Path("/elsewhere"))
    assert absolute.path == tmp_path / "abs.db"
    with pytest.raises(ConfigError, match="sqlite driver: busy_timeout: invalid duration"):
        SQLiteDriver.from_config({"busy_timeout": "soon"}, tmp_path)


async def test_idle_wait_sleeps_until_a_delayed_job_is_due(driver: SQLiteDriver) -> None:
    await driver.push([PushItem(envelope("later"), delay=0.3)])
    started = time.monotonic()
    await driver.wait([QUEUE], 5.0)
    assert 0.25 <= time.monotonic() - started < 2.0
    assert len(await driver.reserve(QUEUE, 1, 30.0)) == 1


async def test_idle_wait_times_out(driver: SQLiteDriver) -> None:
    started = time.monotonic()
    await driver.wait([QUEUE], 0.2)
    assert 0.15 <= time.monotonic() - started < 1.0


async def test_wait_wakes_on_another_connections_push(driver: SQLiteDriver, tmp_path: Path) -> None:
    other = SQLiteDriver(tmp_path / "queue.db")
    await other.open()
    waiting = asyncio.create_task(driver.wait([QUEUE], 10.0))
    await asyncio.sleep(0.1)  # let the waiter go idle first
    assert not waiting.done()
    await other.push([PushItem(envelope("now"))])
    await asyncio.wait_for(waiting, 3.0)  # well before its 10 s timeout
    await other.close()


async def test_wait_wakes_on_own_push_to_that_queue(driver: SQLiteDriver) -> None:
    waiting = asyncio.create_task(driver.wait([QUEUE], 10.0))
    await asyncio.sleep(0.05)
    await driver.push([PushItem(envelope("now"))])
    await asyncio.wait_for(waiting, 3.0)


async def test_instances_from_two_processes_count_until_they_leave(tmp_path: Path) -> None:
    a, b = SQLiteDriver(tmp_path / "q.db"), SQLiteDriver(tmp_path / "q.db")
    await a.heartbeat("w", "one", 60.0)
    await b.heartbeat("w", "two", 60.0)
    await b.heartbeat("w", "gone", 0.0)  # already expired
    assert (await a.worker_counts("w")).instances == 2
    await b.leave("w", "two")
    assert (await a.worker_counts("w")).instances == 1
    await a.close()
    await b.close()
