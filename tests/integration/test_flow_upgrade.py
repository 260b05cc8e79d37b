"""A database made before pause and flow control gains their tables on the next open,
without a schema version bump (SQLite: every open; PostgreSQL: under the advisory lock)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from psycopg import sql

from runa_runner.drivers.flow import Flow
from runa_runner.drivers.postgres import PostgresDriver
from runa_runner.drivers.sqlite import SQLiteDriver

from .postgres_support import make_pg, pg_schema, pg_url
from .test_postgres_driver import raw

__all__ = ["make_pg", "pg_schema", "pg_url"]

FLOW_TABLES = ("queue_pauses", "queue_starts")


async def test_an_older_sqlite_file_gains_the_flow_tables(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    first = SQLiteDriver(path)
    await first.open()
    await first.close()
    with sqlite3.connect(path) as conn:  # as a version without pause/flow left it
        for table in FLOW_TABLES:
            conn.execute(f"DROP TABLE {table}")
    again = SQLiteDriver(path)
    try:
        assert await again.set_paused("q", True) is False
        assert await again.paused("q") is True
        assert await again.reserve("q", 5, 30.0, Flow(max_running=1)) == []
    finally:
        await again.close()


async def test_an_older_postgres_schema_gains_the_flow_tables(
    make_pg: Callable[..., PostgresDriver], pg_url: str, pg_schema: str,
) -> None:
    first = make_pg()
    await first.open()
    for table in FLOW_TABLES:
        await raw(pg_url, sql.SQL("DROP TABLE {}.{}").format(
            sql.Identifier(pg_schema), sql.Identifier(table)))
    again = make_pg()
    await again.open()
    assert await again.set_paused("q", True) is False
    assert await again.paused("q") is True
    assert await again.reserve("q", 5, 30.0) == []
