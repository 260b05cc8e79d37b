"""Pause and flow control on SQLite (drivers/flow.py): synchronous steps run inside the
write transaction of a reserve (``moves.reserve``) or of their own.

Every writer holds the database's one write lock (``BEGIN IMMEDIATE``), so counting the
running jobs and the window's starts, then reserving, is atomic across processes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from ..flow import Flow, Hold, allowance, hold_of
from .queries import FLOW

#: The statements that create the tables (run by every open; idempotent).
SETUP = ("pauses_table", "starts_table", "starts_index")


def ensure_tables(conn: sqlite3.Connection) -> None:
    for name in SETUP:
        conn.execute(FLOW[name])


def is_paused(conn: sqlite3.Connection, queue: str) -> bool:
    return conn.execute(FLOW["is_paused"], (queue,)).fetchone() is not None


def paused_among(conn: sqlite3.Connection, queues: Sequence[str]) -> set[str]:
    return {q for q in queues if is_paused(conn, q)}


def allowed(conn: sqlite3.Connection, queue: str, count: int, flow: Flow | None,
            now: float) -> int:
    """How many jobs this reserve may take within the limits (0 while paused). A queue
    without limits costs nothing here: the "due" query itself skips a paused queue."""
    if not flow:
        return count
    if is_paused(conn, queue):
        return 0
    running, started, _ = _usage(conn, queue, flow, now)
    return allowance(count, flow, running, started)


def record_starts(conn: sqlite3.Connection, queue: str, flow: Flow | None, n: int,
                  now: float) -> None:
    if flow and flow.rate is not None and n:
        conn.executemany(FLOW["add_start"], [(queue, now)] * n)


def _usage(conn: sqlite3.Connection, queue: str, flow: Flow,
           now: float) -> tuple[int, int, float | None]:
    """Running jobs, starts inside the rate's window and the oldest of them."""
    running = 0
    if flow.max_running is not None:
        running = int(conn.execute(FLOW["running"], (queue, now)).fetchone()[0])
    started, oldest = 0, None
    if flow.rate is not None:
        since = now - flow.rate.window
        conn.execute(FLOW["forget_starts"], (queue, since))
        n, first = conn.execute(FLOW["started"], (queue, since)).fetchone()
        started, oldest = int(n), (first if isinstance(first, float) else None)
    return running, started, oldest


def set_paused(conn: sqlite3.Connection, queue: str, paused: bool) -> bool:
    was = is_paused(conn, queue)
    if paused:
        conn.execute(FLOW["pause"], (queue, time.time()))
    else:
        conn.execute(FLOW["resume"], (queue,))
    return was


def held(conn: sqlite3.Connection, queue: str, flow: Flow) -> Hold | None:
    """Inside a write transaction (it forgets starts that left the window). A lapsed
    lease holds no slot: ``running`` counts live leases only."""
    now = time.time()
    if conn.execute(FLOW["has_due"], (queue, now)).fetchone() is None:
        return None
    running, started, oldest = _usage(conn, queue, flow, now) if flow else (0, 0, None)
    return hold_of(flow, is_paused(conn, queue), running, started, oldest, now)
