"""Pause and flow control on PostgreSQL (drivers/flow.py): the tables, and the plan that
reserves from a queue with limits.

A queue without limits reserves with the one plain statement (its ``picked`` step skips a
paused queue). A queue with limits reserves in a transaction: the queue's advisory lock,
then its usage (live leases, starts in the window), then the plain reserve of what the
limits allow, then the starts logged. Two reservers of one limited queue thus take turns,
and the second sees the first's reservations (a new snapshot per statement).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import psycopg

from ..base import Reserved
from ..flow import Flow, Hold, allowance, hold_of
from ..sqlfiles import parse_named, read_sql
from . import moves
from .moves import Plan
from .queries import quote_ident

_FLOW = parse_named(read_sql(__package__ or "", "flow.sql"))
#: The statements that create the tables, in order; the last one's object is looked for.
SETUP = ("pauses_table", "starts_table", "starts_index")
LAST_OBJECT = "queue_starts_by_time"


@cache
def statements(schema: str) -> dict[str, bytes]:
    return {k: v.replace("{schema}", quote_ident(schema)).encode() for k, v in _FLOW.items()}


async def ensure_tables(conn: psycopg.AsyncConnection[Any], schema: str, lock_key: str) -> None:
    """Create the tables when missing, under the schema's advisory lock."""
    name = f"{quote_ident(schema)}.{LAST_OBJECT}"
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
    row = await cur.fetchone()
    if row is not None and row[0]:
        return
    s = statements(schema)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock_key,))
        for step in SETUP:
            await conn.execute(s[step])


def lock_key(schema: str, queue: str) -> str:
    return f"runa-runner flow {schema} {queue}"


def _usage(f: Mapping[str, bytes], queue: str,
           flow: Flow) -> Plan[tuple[int, int, float | None, bool, bool, float]]:
    window = flow.rate.window if flow.rate is not None else 0.0
    rows = yield f["usage"], {"queue": queue, "window": float(window)}
    running, started, oldest, paused, due, _, now = rows[0]
    return (int(running), int(started) if flow.rate is not None else 0,
            float(oldest) if oldest is not None else None, bool(paused), bool(due), float(now))


def reserve_limited(q: Mapping[str, bytes], f: Mapping[str, bytes], schema: str, queue: str,
                    count: int, lease: float, flow: Flow) -> Plan[list[Reserved]]:
    """Run in one transaction: see the module docstring."""
    yield f["flow_lock"], {"key": lock_key(schema, queue)}
    running, started, _, paused, _, _ = yield from _usage(f, queue, flow)
    n = 0 if paused else allowance(count, flow, running, started)
    if n <= 0:
        return []
    out = yield from moves.reserve(q, queue, n, lease)
    if out and flow.rate is not None:
        yield f["add_starts"], {"queue": queue, "n": len(out)}
    return out


def held(f: Mapping[str, bytes], queue: str, flow: Flow) -> Plan[Hold | None]:
    running, started, oldest, paused, due, now = yield from _usage(f, queue, flow)
    if not due:
        return None
    return hold_of(flow, paused, running, started, oldest, now)
