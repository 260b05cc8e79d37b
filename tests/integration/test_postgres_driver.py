"""The PostgreSQL driver's own promises, beyond the shared contract suite (tests/contract).

Tables created once under an advisory lock, every call an index scan (EXPLAIN, with
and without ANALYZE), unreadable rows moved to failed by the reserve that found them,
wake-ups by NOTIFY (and polling with ``notify: false``), clear errors without passwords.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from runa_runner.drivers import create_driver, driver_type
from runa_runner.drivers.base import ALL_CAPABILITIES, Outcome, PushItem
from runa_runner.drivers.postgres import PostgresDriver
from runa_runner.drivers.postgres.borrowing import borrowed
from runa_runner.drivers.postgres.cursor import id_time
from runa_runner.drivers.postgres.queries import SCHEMA_VERSION, statements
from runa_runner.errors import ConfigError, DriverError, DriverUnavailable
from runa_runner.job import Envelope, new_id
from runa_runner.records import UNREADABLE

from .postgres_support import make_pg, pg, pg_schema, pg_url

__all__ = ["make_pg", "pg", "pg_schema", "pg_url"]

QUEUE = "q"


def item(payload: Any = None, *, queue: str = QUEUE, delay: float = 0.0) -> PushItem:
    return PushItem(Envelope(new_id(), queue, "j", payload), delay)


async def raw(url: str, query: sql.Composable, *params: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(query, params)
        return await cur.fetchall() if cur.description else []


def test_capabilities_description_and_manifest_keys(tmp_path: Path) -> None:
    drv = create_driver("postgres", {"url": "postgresql://u:sekrit@db.example:5433/app",
                                     "schema": "jobs", "pool_size": 3, "notify": False},
                        tmp_path)
    assert isinstance(drv, PostgresDriver)
    assert drv.capabilities == ALL_CAPABILITIES
    assert [(k.name, k.kind) for k in driver_type("postgres").config] == [
        ("url", "string"), ("schema", "string"), ("pool_size", "integer"),
        ("notify", "boolean")]
    info = drv.describe()
    assert (info.type, info.target, info.extra) == (
        "postgres", "postgresql://u@db.example:5433/app", {"schema": "jobs"})
    assert "sekrit" not in repr(info)
    with pytest.raises(ConfigError, match="unknown key"):
        create_driver("postgres", {"host": "x"}, tmp_path)
    with pytest.raises(ConfigError, match="pool_size"):
        create_driver("postgres", {"pool_size": 0}, tmp_path)
    with pytest.raises(ConfigError, match="schema"):
        create_driver("postgres", {"schema": "x" * 64}, tmp_path)


async def test_unreachable_server_is_one_line_without_the_password() -> None:
    drv = PostgresDriver("postgresql://u:sekrit@127.0.0.1:1/app")
    with pytest.raises(DriverUnavailable) as caught:
        await drv.open()
    text = str(caught.value)
    assert text.startswith("postgres driver: cannot reach postgresql://u@127.0.0.1:1/app")
    assert "sekrit" not in text and "\n" not in text
    await drv.close()


async def test_tables_are_created_once_by_concurrent_first_opens(
    make_pg: Callable[..., PostgresDriver], pg_url: str, pg_schema: str,
) -> None:
    drivers = [make_pg() for _ in range(4)]
    await asyncio.gather(*(d.open() for d in drivers))
    versions = await raw(pg_url, sql.SQL("SELECT version FROM {}.schema_version").format(
        sql.Identifier(pg_schema)))
    assert versions == [(SCHEMA_VERSION,)]
    tables = {r[0] for r in await raw(
        pg_url, sql.SQL("SELECT tablename FROM pg_tables WHERE schemaname = %s"), pg_schema)}
    assert tables == {"schema_version", "jobs", "failed", "unique_locks", "worker_stats",
                      "instances", "schedule_slots", "results", "cancels",
                      "queue_pauses", "queue_starts"}


async def test_a_newer_schema_is_refused(
    make_pg: Callable[..., PostgresDriver], pg_url: str, pg_schema: str,
) -> None:
    await make_pg().open()
    await raw(pg_url, sql.SQL("UPDATE {}.schema_version SET version = 99").format(
        sql.Identifier(pg_schema)))
    with pytest.raises(DriverError, match="version 99, newer than this runa-runner"):
        await make_pg().open()


async def test_unreadable_rows_go_to_failed_and_the_others_run(
    pg: PostgresDriver, pg_url: str, pg_schema: str, caplog: pytest.LogCaptureFixture,
) -> None:
    [good] = await pg.push([item({"n": 1})])
    table = sql.SQL("{}.jobs").format(sql.Identifier(pg_schema))
    insert = sql.SQL("INSERT INTO {} (id, queue, state, envelope, enqueued_at, available_at, "
                     "max_attempts) VALUES (%s, %s, 'pending', %s, 0, 0, 1)").format(table)
    bad = {
        "0000000000000000notjson001": "{not json",
        "0000000000000000otherid002": '{"id": "elsewhere", "queue": "q", "job": "j"}',
        "0000000000000000toodeep003": '{"id": "0000000000000000toodeep003", "queue": "q", '
                                      '"job": "j", "payload": ' + "[" * 100 + "]" * 100 + "}",
        "0000000000000000badretry04": '{"id": "0000000000000000badretry04", "queue": "q", '
                                      '"job": "j", "max_retries": -3}',
    }
    for job_id, text in bad.items():
        await raw(pg_url, insert, job_id, QUEUE, text)
    with caplog.at_level(logging.WARNING, logger="runa_runner.postgres"):
        got = await pg.reserve(QUEUE, 10, 30.0)
    assert [r.envelope.id for r in got] == [good]
    warned = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(warned) == len(bad)
    failed = {r.envelope.id: r for r in await pg.list_failed(QUEUE)}
    assert set(failed) == set(bad)
    for rec in failed.values():
        assert rec.envelope.job == UNREADABLE
        assert rec.error is not None and rec.error.startswith("corrupt record: ")
    assert "elsewhere" in (failed["0000000000000000otherid002"].error or "")
    counts = await pg.counts(QUEUE)
    assert (counts.pending, counts.reserved, counts.failed) == (0, 1, len(bad))
    assert await pg.reserve(QUEUE, 10, 30.0) == []


async def reserve_plan(url: str, schema: str, analyze: bool) -> str:
    q = statements(schema)
    params = {"queue": QUEUE, "count": 8, "token": "t", "lease": 30.0, "lease_lost": "x"}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        if analyze:
            await conn.execute(sql.SQL("ANALYZE {}.jobs").format(sql.Identifier(schema)))
        cur = await conn.execute(b"EXPLAIN " + q["reserve"], params)
        return "\n".join(row[0] for row in await cur.fetchall())


@pytest.mark.parametrize("analyze", [False, True], ids=["fresh", "analyzed"])
async def test_reserve_is_an_index_scan_on_a_large_table(
    pg: PostgresDriver, pg_url: str, pg_schema: str, analyze: bool,
) -> None:
    # 20,000 due jobs in two queues, 2,000 delayed, 1,000 reserved (one reserve of each).
    await pg.push([item(n, queue=("q", "other")[n % 2]) for n in range(20_000)])
    await pg.push([item(n, delay=3600) for n in range(2_000)])
    assert len(await pg.reserve(QUEUE, 1000, 30.0)) == 1000
    plan = await reserve_plan(pg_url, pg_schema, analyze)
    assert "Index Scan using jobs_due" in plan, plan
    assert "jobs_leases" in plan, plan
    assert "Seq Scan" not in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.parametrize("analyze", [False, True], ids=["fresh", "analyzed"])
async def test_every_other_call_is_an_index_scan(
    pg: PostgresDriver, pg_url: str, pg_schema: str, analyze: bool,
) -> None:
    # Counting a queue that is most of the table is rightly a sequential scan; here the
    # queue asked about is a tenth of each table.
    await pg.push([item(n, queue=QUEUE if n % 10 == 0 else "other") for n in range(10_000)])
    held = await pg.reserve(QUEUE, 500, 30.0)
    await pg.settle([Outcome(QUEUE, r.envelope.id, r.token, "fail", error="e")
                     for r in held[:40]])
    await raw(pg_url, sql.SQL(
        "INSERT INTO {}.failed (id, queue, envelope, enqueued_at, available_at, attempt, "
        "max_attempts, error, failed_at) SELECT 'f' || n, 'other', '{{}}', 0, 0, 1, 1, 'e', n "
        "FROM generate_series(1, 20000) AS n").format(sql.Identifier(pg_schema)))
    await raw(pg_url, sql.SQL(
        "INSERT INTO {}.unique_locks (key, job_id) SELECT 'k' || n, 'f' || n "
        "FROM generate_series(1, 20000) AS n").format(sql.Identifier(pg_schema)))
    if analyze:
        for table in ("jobs", "failed", "unique_locks"):
            await raw(pg_url, sql.SQL("ANALYZE {}.{}").format(sql.Identifier(pg_schema),
                                                              sql.Identifier(table)))
    q = statements(pg_schema)
    calls = {
        "counts": {"queue": QUEUE},
        "next_due": {"queues": [QUEUE, "other"]},
        "get": {"queue": QUEUE, "id": "x"},
        "list_failed": {"queue": QUEUE, "limit": 10, "offset": 0},
        "renew": {"queue": QUEUE, "id": "x", "token": "t", "lease": 1.0},
        "purge_failed": {"queue": QUEUE, "older_than": 1.0, "limit": 1000},
        "purge_jobs": {"queue": QUEUE, "limit": 1000},
        "delete": {"queue": QUEUE, "id": "x"},
        "recover": {"queue": QUEUE, "lease_lost": "x"},
        "retry_failed": {"queue": QUEUE, "ids": None, "limit": 1000, "channel": "c",
                         "notify": False},
        "settle": {"outcomes": json.dumps([
                       {"kind": kind, "queue": QUEUE, "id": job_id, "token": "t", "delay": 0.0,
                        "give_back": 0, "error": None, "traceback": None}
                       for kind, job_id in (("ack", "a"), ("release", "b"), ("fail", "c"))]),
                   "stats": json.dumps([{"worker": "w", "succeeded": 1, "failed": 0,
                                         "retried": 0}]),
                   "channel": "c", "notify": False},
        "add_stats": {"workers": ["w"], "succeeded": [1], "failed": [0], "retried": [0]},
        "list_pending": {"queue": QUEUE, "when": 1e12, "last": "x", "limit": 50},
        "list_delayed": {"queue": QUEUE, "when": 1e12, "last": "x", "limit": 50},
        "list_failed_newest": {"queue": QUEUE, "when": 1e12, "last": "x", "limit": 50},
        "cursor_row": {"queue": QUEUE, "id": "x"},
        "oldest_due": {"queue": QUEUE},
        "to_failed": {"ids": ["a"], "tokens": ["t"], "errors": ["e"], "tracebacks": [None]},
    }
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        for name, params in calls.items():
            cur = await conn.execute(b"EXPLAIN " + q[name], params)
            plan = "\n".join(row[0] for row in await cur.fetchall())
            assert "Seq Scan" not in plan, f"{name}:\n{plan}"


async def test_a_batch_whose_values_hold_the_separator_is_pushed_as_arrays(
    pg: PostgresDriver,
) -> None:
    # push joins each column with U+001E; an id or queue holding it (JSON never does)
    # must not split into two jobs.
    odd = PushItem(Envelope("id\x1ewith-separator", "q\x1eodd", "j", {"n": "\x1e"}))
    ids = await pg.push([odd, item(1), item(2, delay=5.5)])
    assert ids[0] == "id\x1ewith-separator"
    got = await pg.get("q\x1eodd", ids[0])
    assert got is not None and got.envelope.payload == {"n": "\x1e"}
    assert (await pg.counts(QUEUE)).pending + (await pg.counts(QUEUE)).delayed == 2
    assert (await pg.counts("q\x1eodd")).pending == 1


async def test_a_push_tried_again_skips_the_jobs_it_already_stored(
    pg: PostgresDriver, pg_url: str,
) -> None:
    # A push whose connection drops may have committed: the second try (the plan
    # without _fresh) must not fail on, or duplicate, the ids already there.
    batch = [item(n) for n in range(3)]
    await pg.push(batch[:2])
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        assert await pg.push(batch, connection=conn) == [i.envelope.id for i in batch]
        assert await pg.push(batch[:1], connection=conn) == [batch[0].envelope.id]
    assert (await pg.counts(QUEUE)).pending == 3


async def test_a_push_from_another_process_wakes_an_idle_wait(
    make_pg: Callable[..., PostgresDriver],
) -> None:
    waiter, pusher = make_pg(), make_pg()
    await waiter.open()
    await pusher.open()
    await waiter.wait([QUEUE], 0.01)  # starts LISTEN (and returns: it may have missed some)
    started = time.monotonic()
    waiting = asyncio.create_task(waiter.wait([QUEUE], 30.0))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await pusher.push([item("wake")])
    await asyncio.wait_for(waiting, 10.0)
    assert time.monotonic() - started < 10.0
    assert len(await waiter.reserve(QUEUE, 5, 30.0)) == 1


async def test_with_notify_off_an_idle_wait_polls(make_pg: Callable[..., PostgresDriver]) -> None:
    waiter, pusher = make_pg(notify=False), make_pg(notify=False)
    await waiter.open()
    await pusher.open()
    started = time.monotonic()
    waiting = asyncio.create_task(waiter.wait([QUEUE], 0.6))
    await asyncio.sleep(0.1)
    await pusher.push([item("unannounced")])
    await waiting
    assert time.monotonic() - started >= 0.55  # nothing announced it: the poll interval ran
    assert len(await waiter.reserve(QUEUE, 5, 30.0)) == 1


async def test_an_idle_wait_ends_when_a_delayed_job_falls_due(pg: PostgresDriver) -> None:
    await pg.push([item("later", delay=0.5)])
    await pg.wait([QUEUE], 0.01)  # starts LISTEN
    started = time.monotonic()
    await pg.wait([QUEUE], 30.0)
    assert 0.2 <= time.monotonic() - started < 10.0


async def test_list_jobs_pages_newest_first_and_oldest_due(pg: PostgresDriver) -> None:
    assert await pg.oldest_due(QUEUE) is None
    due = await pg.push([item(n) for n in range(5)])
    [later] = await pg.push([item("later", delay=3600)])
    [first, second] = await pg.list_jobs(QUEUE, "pending", 2)  # newest first
    assert [first.envelope.id, second.envelope.id] == due[:-3:-1]
    rest = await pg.list_jobs(QUEUE, "pending", 10, after=second.envelope.id)
    assert [r.envelope.id for r in rest] == due[-3::-1]
    # A cursor whose job left the state meanwhile resumes from the time its id was made.
    await pg.delete(QUEUE, second.envelope.id)
    made = id_time(second.envelope.id)
    resumed = await pg.list_jobs(QUEUE, "pending", 10, after=second.envelope.id)
    assert all(r.envelope.available_at < made for r in resumed)
    assert [r.envelope.id for r in await pg.list_jobs(QUEUE, "delayed", 10)] == [later]
    oldest = await pg.oldest_due(QUEUE)
    assert oldest is not None and oldest <= time.time() + 1
    assert await pg.list_jobs(QUEUE, "failed", 10) == []


async def test_a_call_cancelled_while_waiting_for_a_connection_stops_and_gives_it_back(
    pg_url: str,
) -> None:
    import psycopg_pool

    pool: psycopg_pool.AsyncConnectionPool[Any] = psycopg_pool.AsyncConnectionPool(
        pg_url, min_size=1, max_size=1, open=False, timeout=30)
    await pool.open(wait=True)

    async def use_one() -> None:
        async with borrowed(pool):
            raise AssertionError("the cancelled call ran on")

    try:
        async with borrowed(pool) as held:
            waiting = asyncio.create_task(use_one())
            deadline = time.monotonic() + 10
            while not pool.get_stats().get("requests_waiting") and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        # The abandoned wait gets the connection as it is released, and gives it back.
        async with asyncio.timeout(10), borrowed(pool) as again:
            assert again is held
    finally:
        await pool.close()
