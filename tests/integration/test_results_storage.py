"""Results and cancel storage: tables of their own, which an older file or schema gains
on open, and kept results that expire on the server's own terms."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from runa_runner.drivers.base import Outcome, PushItem
from runa_runner.drivers.postgres import PostgresDriver
from runa_runner.drivers.sqlite import SQLiteDriver
from runa_runner.job import Envelope, new_id

from .postgres_support import make_pg, pg_schema, pg_url

__all__ = ["make_pg", "pg_schema", "pg_url"]


def _item() -> PushItem:
    return PushItem(Envelope(new_id(), "q", "j", {}, result_ttl=60))


async def _keep_one(driver: SQLiteDriver | PostgresDriver) -> str:
    [job_id] = await driver.push([_item()])
    [r] = await driver.reserve("q", 1, 30)
    [ok] = await driver.settle([Outcome("q", job_id, r.token, "ack", result='{"n":1}',
                                       result_ttl=60)])
    assert ok
    return job_id


async def test_an_older_sqlite_file_gains_the_tables(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    first = SQLiteDriver(path)
    await first.open()
    await first.close()
    with sqlite3.connect(path) as conn:  # a file made before results existed
        conn.execute("DROP TABLE job_results")
        conn.execute("DROP TABLE job_cancels")
    again = SQLiteDriver(path)
    try:
        job_id = await _keep_one(again)
        rec = await again.get("q", job_id)
        assert rec is not None and (rec.state, rec.result) == ("succeeded", {"n": 1})
    finally:
        await again.close()


async def test_an_older_postgres_schema_gains_the_tables(
    make_pg: Callable[..., PostgresDriver], pg_url: str, pg_schema: str,
) -> None:
    await make_pg().open()
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        for table in ("results", "cancels"):
            await conn.execute(sql.SQL("DROP TABLE {}.{}").format(
                sql.Identifier(pg_schema), sql.Identifier(table)))
    drivers = [make_pg() for _ in range(3)]
    await asyncio.gather(*(d.open() for d in drivers))  # concurrent: one creates them
    job_id = await _keep_one(drivers[0])
    rec = await drivers[1].get("q", job_id)
    assert rec is not None and (rec.state, rec.result) == ("succeeded", {"n": 1})


async def test_a_corrupt_kept_result_is_shown_not_guessed(tmp_path: Path) -> None:
    driver = SQLiteDriver(tmp_path / "queue.db")
    try:
        job_id = await _keep_one(driver)
        with sqlite3.connect(tmp_path / "queue.db") as conn:
            conn.execute("UPDATE job_results SET result = '{nope' WHERE id = ?", (job_id,))
        rec = await driver.get("q", job_id)
        assert rec is not None and rec.state == "succeeded"
        assert isinstance(rec.result, str) and rec.result.startswith("<unreadable: ")
    finally:
        await driver.close()
