"""Inspection and housekeeping: job lookup, counts, the failed store, purge, stats, instances.

Synchronous functions over a connection; those that write run inside one
``BEGIN IMMEDIATE`` transaction (``connection.run_write``), the rest are plain
WAL reads. Semantics follow ``drivers/memory.py``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from ...records import CorruptRecord, unreadable_envelope
from ..base import (
    JobRecord,
    JobState,
    ListState,
    QueueCounts,
    StatsDelta,
    WorkerCounts,
    id_time,
)
from . import flow, rows
from .moves import recover_lapsed
from .queries import FAILED_COUNTS, Q


def get(conn: sqlite3.Connection, queue: str, job_id: str) -> JobRecord | None:
    """The job in any state (after lapsed leases were settled, like a reserve would)."""
    recover_lapsed(conn, queue, time.time())
    row = conn.execute(Q["get"], (queue, job_id)).fetchone()
    return None if row is None else record(row, time.time())


def record(row: Sequence[Any], now: float) -> JobRecord:
    """A ``jobs`` row (``get`` column order) as a JobRecord; columns override the JSON.

    Never raises: a row that cannot be read lists as :data:`~runa_runner.records.UNREADABLE`
    with an escaped preview of its envelope, so ``failed list`` and ``job ID`` show it.
    """
    raw_id, raw_queue, _job, state, raw, attempt, available_at, error, tb, failed_at = row
    job_id, queue = rows.text(raw_id) or "", rows.text(raw_queue) or ""
    try:
        env = rows.envelope(raw, job=job_id, queue=queue, attempt=attempt,
                            available_at=available_at)
    except CorruptRecord:
        env = unreadable_envelope(job_id, queue, raw, attempt=rows.count(attempt),
                                  available_at=rows.number(available_at))
    shown: JobState = state
    if state == "pending" and env.available_at > now:
        shown = "delayed"
    return JobRecord(env, shown, rows.text(error), rows.text(tb),
                     None if failed_at is None else rows.number(failed_at))


def delete(conn: sqlite3.Connection, queue: str, job_id: str) -> bool:
    """Delete a waiting or failed job and its unique lock; a reserved job stays."""
    found = conn.execute(Q["delete"], (queue, job_id)).fetchall()
    if not found:
        return False
    if found[0][0]:
        conn.execute(Q["drop_lock"], (job_id,))
    return True


def counts(conn: sqlite3.Connection, queue: str) -> QueueCounts:
    now = time.time()
    recover_lapsed(conn, queue, now)
    by_state = {state: (int(n), int(later)) for state, n, later in
                conn.execute(Q["counts"], (queue, now))}
    waiting, delayed = by_state.get("pending", (0, 0))
    return QueueCounts(
        pending=waiting - delayed,
        delayed=delayed,
        reserved=by_state.get("reserved", (0, 0))[0],
        failed=failed_count(conn, queue),
    )


def failed_count(conn: sqlite3.Connection, queue: str) -> int | None:
    """The trigger-kept number of failed jobs (None when the stored value is not a count:
    a file edited by hand is not trusted to say 0)."""
    row = conn.execute(FAILED_COUNTS["read"], (queue,)).fetchone()
    if row is None:
        return 0
    n = row[0]
    return n if isinstance(n, int) and n >= 0 else None


#: list_jobs' statement per listed state.
LISTING = {"pending": "list_pending", "delayed": "list_delayed", "failed": "list_failed_newest"}


def list_jobs(conn: sqlite3.Connection, queue: str, state: ListState, limit: int,
              after: str | None) -> list[JobRecord]:
    """A page of ``state`` newest first, by index range from the cursor (never an offset)."""
    now = time.time()
    when, last = (float("inf"), "") if after is None else (
        cursor_time(conn, queue, state, after), after)
    rows = conn.execute(Q[LISTING[state]], (queue, now, when, last, max(limit, 0)))
    return [record(r, now) for r in rows]


def cursor_time(conn: sqlite3.Connection, queue: str, state: ListState, job_id: str) -> float:
    """The ordering time of the cursor's job in ``state``, or the time its id was made."""
    row = conn.execute(Q["cursor_row"], (queue, job_id)).fetchone()
    if row is not None and (row[0] == "failed") == (state == "failed"):
        value = row[2] if state == "failed" else row[1]
        if isinstance(value, int | float):  # a stored row is untrusted
            return float(value)
    return id_time(job_id)


def oldest_due(conn: sqlite3.Connection, queue: str) -> float | None:
    row = conn.execute(Q["oldest_due"], (queue, time.time())).fetchone()
    due = None if row is None else row[0]
    return float(due) if isinstance(due, int | float) else None  # a stored row is untrusted


def list_failed(conn: sqlite3.Connection, queue: str, limit: int, offset: int) -> list[JobRecord]:
    now = time.time()
    return [record(r, now) for r in conn.execute(Q["list_failed"], (queue, limit, offset))]


def retry_failed(conn: sqlite3.Connection, queue: str, job_ids: Sequence[str] | None) -> int:
    """Failed jobs back to pending with attempt 0 (all of the queue's when ``job_ids`` is None)."""
    now = time.time()
    if job_ids is None:
        return int(conn.execute(Q["retry_failed_all"], (queue, now)).rowcount)
    cur = conn.executemany(Q["retry_failed_one"], [(queue, now, i) for i in dict.fromkeys(job_ids)])
    return int(cur.rowcount)


def purge_failed(conn: sqlite3.Connection, queue: str, older_than: float | None) -> int:
    return int(conn.execute(Q["purge_failed"], (queue, older_than)).rowcount)


def purge(conn: sqlite3.Connection, queue: str) -> int:
    conn.execute(Q["purge_locks"], (queue,))
    return int(conn.execute(Q["purge"], (queue,)).rowcount)


def add_stats(conn: sqlite3.Connection, worker: str, delta: StatsDelta) -> None:
    conn.execute(Q["add_stats"], (worker, delta.succeeded, delta.failed, delta.retried))


def worker_counts(conn: sqlite3.Connection, worker: str) -> WorkerCounts:
    row = conn.execute(Q["worker_stats"], (worker,)).fetchone()
    ok, failed, retried = row if row is not None else (0, 0, 0)
    live = conn.execute(Q["live_instances"], (worker, time.time())).fetchone()[0]
    return WorkerCounts(ok + failed + retried, ok, failed, retried, int(live))


def heartbeat(conn: sqlite3.Connection, worker: str, instance: str, ttl: float) -> None:
    now = time.time()
    conn.execute(Q["prune_instances"], (now,))
    conn.execute(Q["heartbeat"], (worker, instance, now + ttl))


def leave(conn: sqlite3.Connection, worker: str, instance: str) -> None:
    conn.execute(Q["leave"], (worker, instance))


def next_due(conn: sqlite3.Connection, queues: Sequence[str]) -> tuple[float | None, int]:
    """The earliest due or lease-lapse time over ``queues``, and PRAGMA data_version.

    data_version changes when another connection commits, which is how an idle
    waiter notices other processes' writes without re-running this query.
    """
    version = data_version(conn)  # first: a commit after it shows up as a change later
    times: list[float] = []
    paused = flow.paused_among(conn, queues)  # a paused queue's jobs are not due
    for queue in queues:
        due, lapse = conn.execute(Q["next_due"], (queue,)).fetchone()
        # Only numbers: a TEXT time another program wrote is reserve's to fail, not ours.
        times.extend(t for t in ((lapse,) if queue in paused else (due, lapse))
                     if isinstance(t, int | float) and t == t)
    return (min(times) if times else None), version


def data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])
