"""Transactional push: a job pushed on the caller's psycopg connection exists if and only
if the caller's transaction commits (DESIGN.md §13), async and sync alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

import runa_runner as rr
from runa_runner.drivers.postgres import PostgresDriver
from runa_runner.errors import ConfigError

from .postgres_support import make_pg, pg_schema, pg_url

__all__ = ["make_pg", "pg_schema", "pg_url"]


class Boom(Exception):
    pass


def registry(driver: PostgresDriver, runs: list[Any]) -> rr.Registry:
    async def record(job: rr.Job[Any]) -> None:
        runs.append(job.payload)

    reg = rr.Registry().driver("pg", driver)
    reg.worker("w", poll_interval=0.05)
    reg.queue("q", driver="pg", workers=["w"])
    reg.queue("mem", workers=["w"])
    reg.job("order.placed", record, queue="q")
    return reg.freeze()


async def burst(reg: rr.Registry) -> None:
    await asyncio.wait_for(rr.Unit(reg, "w").run(burst=True), 30)


async def test_commit_runs_the_job_and_rollback_leaves_nothing(
    make_pg: Callable[..., PostgresDriver], pg_url: str,
) -> None:
    runs: list[Any] = []
    reg = registry(make_pg(), runs)
    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        async with conn.transaction():
            kept = await reg.push("order.placed", {"order": 1}, connection=conn,
                                  unique="order-1")
            # Not visible to anyone else before the commit.
            assert await reg.job_info(kept) is None
        with pytest.raises(Boom):
            async with conn.transaction():
                dropped = await reg.push("order.placed", {"order": 2}, connection=conn,
                                         unique="order-2")
                raise Boom
    info = await reg.job_info(kept)
    assert info is not None and info.state == "pending"
    assert await reg.job_info(dropped) is None
    # The rolled-back push left no unique lock: the same key is free, the committed one held.
    again = await reg.push("order.placed", {"order": 2}, unique="order-2")
    assert again != dropped
    assert await reg.push("order.placed", {"order": 1}, unique="order-1") == kept
    await burst(reg)
    assert sorted(p["order"] for p in runs) == [1, 2]
    await reg.close()


async def test_push_joins_a_transaction_that_also_writes_the_caller_rows(
    make_pg: Callable[..., PostgresDriver], pg_url: str, pg_schema: str,
) -> None:
    runs: list[Any] = []
    reg = registry(make_pg(), runs)
    table = f'"{pg_schema}".orders'
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await reg.open_driver("pg")  # the schema exists
        await conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)".encode())
        with pytest.raises(psycopg.errors.UniqueViolation):
            async with conn.transaction():
                await conn.execute(f"INSERT INTO {table} VALUES (7)".encode())
                await reg.push("order.placed", {"order": 7}, connection=conn)
                await conn.execute(f"INSERT INTO {table} VALUES (7)".encode())  # fails
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {table} VALUES (8)".encode())
            await reg.push("order.placed", {"order": 8}, connection=conn)
    await burst(reg)
    assert runs == [{"order": 8}]
    await reg.close()


def push_sync_in_transactions(reg: rr.Registry, url: str) -> tuple[str, str]:
    """From plain sync code (no event loop in this thread), as a Django view would."""
    with psycopg.connect(url) as conn:
        with conn.transaction():
            kept = reg.push_sync("order.placed", {"order": 1}, connection=conn)
        try:
            with conn.transaction():
                dropped = reg.push_sync("order.placed", {"order": 2}, connection=conn,
                                        unique="order-2")
                raise Boom
        except Boom:
            pass
    return kept, dropped


async def test_push_sync_on_a_sync_connection(
    make_pg: Callable[..., PostgresDriver], pg_url: str,
) -> None:
    runs: list[Any] = []
    reg = registry(make_pg(), runs)
    kept, dropped = await asyncio.to_thread(push_sync_in_transactions, reg, pg_url)
    assert await reg.job_info(kept) is not None
    assert await reg.job_info(dropped) is None
    assert await reg.push("order.placed", {"order": 3}, unique="order-2") != dropped
    await burst(reg)
    assert sorted(p["order"] for p in runs) == [1, 3]
    await reg.close()


async def test_connection_on_a_driver_without_transactions_is_refused(
    make_pg: Callable[..., PostgresDriver], pg_url: str,
) -> None:
    reg = registry(make_pg(), [])
    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        with pytest.raises(ConfigError, match=r"queue 'mem' uses driver 'memory'.*postgres"):
            await reg.push("order.placed", {}, queue="mem", connection=conn)
        with pytest.raises(ConfigError, match="psycopg Connection or AsyncConnection"):
            await reg.push("order.placed", {}, connection=object())
    await reg.close()
