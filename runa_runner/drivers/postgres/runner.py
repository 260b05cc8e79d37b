"""Driving a plan (``moves.py``) on a connection: async or sync, in a transaction or not."""

from __future__ import annotations

from typing import Any, TypeVar

import psycopg

from .moves import Plan

T = TypeVar("T")


async def drive(conn: psycopg.AsyncConnection[Any], plan: Plan[T]) -> T:
    """Run every statement of ``plan`` on ``conn``, sending each one's rows back."""
    cur = conn.cursor()
    try:
        statement, params = next(plan)
        while True:
            await cur.execute(statement, params)
            rows = await cur.fetchall() if cur.description is not None else []
            statement, params = plan.send(rows)
    except StopIteration as done:
        result: T = done.value
        return result
    finally:
        await cur.close()


def drive_sync(conn: psycopg.Connection[Any], plan: Plan[T]) -> T:
    """:func:`drive` for a sync connection."""
    cur = conn.cursor()
    try:
        statement, params = next(plan)
        while True:
            cur.execute(statement, params)
            rows = cur.fetchall() if cur.description is not None else []
            statement, params = plan.send(rows)
    except StopIteration as done:
        result: T = done.value
        return result
    finally:
        cur.close()


async def drive_in_transaction(conn: psycopg.AsyncConnection[Any], plan: Plan[T],
                               transaction: bool) -> T:
    """``drive``, inside a transaction when ``transaction`` (a savepoint if ``conn`` is
    already in one: the caller's transaction stays the caller's)."""
    if not transaction:
        return await drive(conn, plan)
    async with conn.transaction():
        return await drive(conn, plan)


def drive_sync_in_transaction(conn: psycopg.Connection[Any], plan: Plan[T],
                              transaction: bool) -> T:
    if not transaction:
        return drive_sync(conn, plan)
    with conn.transaction():
        return drive_sync(conn, plan)
