"""Fixtures of the PostgreSQL integration tests: a schema of its own per test, dropped after."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from runa_runner.drivers.postgres import PostgresDriver


@pytest.fixture
def pg_url(postgres_url: str, require_service: Callable[[str], None]) -> str:
    require_service("postgres")
    return postgres_url


@pytest.fixture
async def pg_schema(pg_url: str) -> AsyncIterator[str]:
    """A schema name no other test uses; dropped (with its tables) afterwards."""
    import psycopg
    from psycopg import sql

    name = f"runa_i_{uuid.uuid4().hex[:12]}"
    yield name
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(name)))


@pytest.fixture
async def make_pg(pg_url: str, pg_schema: str) -> AsyncIterator[Callable[..., PostgresDriver]]:
    """``make_pg(notify=False)``: an unopened driver on the test's schema; closed after."""
    made: list[PostgresDriver] = []

    def make(**options: Any) -> PostgresDriver:
        drv = PostgresDriver(pg_url, schema=pg_schema, **options)
        made.append(drv)
        return drv

    yield make
    for drv in made:
        await drv.close()


@pytest.fixture
async def pg(make_pg: Callable[..., PostgresDriver]) -> PostgresDriver:
    drv = make_pg()
    await drv.open()
    return drv
