"""The job moves, as synchronous functions each run inside one write transaction.

Every function takes the connection (already inside ``BEGIN IMMEDIATE``, see
``connection.run_write``) and reads the clock itself, after the write lock is
held, so times written by competing processes are ordered like the commits.
Semantics follow ``drivers/memory.py`` exactly; ``base.py`` states the rules.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ...job import new_id
from ...records import CorruptRecord, corrupt_error, preview
from ..base import CANCELLED, LEASE_LOST, Outcome, PushItem, Reserved, unique_lock_key
from ..flow import Flow
from . import flow as flow_
from . import rows as rows_
from .queries import RESULTS, Q

#: How much of an unreadable envelope the failed record keeps, for a human to look at.
_RAW_KEPT = 2000


def push(conn: sqlite3.Connection, items: Sequence[PushItem]) -> list[str]:
    """Insert the batch; a unique key that is held returns its holder's id instead."""
    now = time.time()
    ids: list[str] = []
    rows: list[tuple[Any, ...]] = []
    for item in items:
        env = item.envelope
        lock = None
        if env.unique is not None:
            lock = unique_lock_key(env.queue, env.job, env.unique)
            held = conn.execute(Q["lock_holder"], (lock, now)).fetchone()
            if held is not None:
                ids.append(held[0])
                continue
            expires = None if item.unique_for is None else now + item.unique_for
            conn.execute(Q["take_lock"], (lock, env.id, expires))
        env = env.evolve(enqueued_at=now, available_at=now + item.delay)
        rows.append((
            env.id, env.queue, env.job, env.to_json(), env.available_at, env.attempt,
            env.max_attempts, lock, item.unique_until,
        ))
        ids.append(env.id)
    conn.executemany(Q["insert_job"], rows)
    return ids


def recover_lapsed(conn: sqlite3.Connection, queue: str, now: float) -> None:
    """Lapsed leases: on the last allowed attempt to failed (LEASE_LOST), else due again."""
    failed = conn.execute(Q["lapsed_to_failed"], (queue, now, LEASE_LOST)).fetchall()
    conn.executemany(Q["drop_lock_of_row"], failed)
    conn.execute(Q["lapsed_to_pending"], (queue, now))


@dataclass(frozen=True, slots=True)
class Corrupt:
    """A row moved to failed by a reserve because it could not be read."""

    job_id: str
    error: str


def reserve(conn: sqlite3.Connection, queue: str, count: int, lease: float,
            flow: Flow | None = None) -> tuple[list[Reserved], list[Corrupt]]:
    """Reserve up to ``count`` due jobs, oldest due first.

    A row that cannot be read goes to failed in this same transaction (and is
    returned apart, for the driver to log): it never reaches a worker, and never
    stops the rows behind it. Rows no job of ours could have written (a time
    that is never due) are taken first, so they cannot wait unseen forever.
    """
    now = time.time()
    recover_lapsed(conn, queue, now)
    count = flow_.allowed(conn, queue, count, flow, now)
    if count <= 0:
        return [], []
    rows = conn.execute(Q["misfits"], (queue, rows_.MAX_EPOCH, count)).fetchall()
    rows += conn.execute(Q["due"], (queue, now, count)).fetchall()
    out: list[Reserved] = []
    bad: list[Corrupt] = []
    updates: list[tuple[Any, ...]] = []
    for rowid, raw_id, raw, attempt, available_at, locked, at_start in rows:
        try:
            job_id = rows_.job_id(raw_id)
            env = rows_.envelope(raw, job=job_id, queue=queue, attempt=attempt,
                                 available_at=available_at)
        except CorruptRecord as exc:
            bad.append(_to_failed(conn, rowid, raw_id, raw, exc, now))
            continue
        if len(out) >= count:
            continue
        env = env.evolve(attempt=env.attempt + 1)
        token = os.urandom(8).hex()
        drop = bool(locked and at_start)
        if drop:
            conn.execute(Q["drop_lock"], (job_id,))
        updates.append((token, now + lease, env.attempt, env.to_json(), rowid, drop,
                        env.max_attempts))
        out.append(Reserved(env, token, now + lease))
    conn.executemany(Q["mark_reserved"], updates)
    flow_.record_starts(conn, queue, flow, len(out), now)
    return out, bad


def _to_failed(conn: sqlite3.Connection, rowid: int, raw_id: Any, raw: Any,
               exc: CorruptRecord, now: float) -> Corrupt:
    """Move an unreadable row to failed; one whose id cannot be read gets a new one."""
    error = corrupt_error(exc)
    conn.execute(Q["drop_lock_of_row"], (rowid,))
    conn.execute(Q["mark_corrupt"], (error, "raw envelope: " + preview(raw, _RAW_KEPT),
                                     now, rowid))
    try:
        job_id = rows_.job_id(raw_id)
    except CorruptRecord:
        job_id = new_id()
        conn.execute(Q["rename_row"], (job_id, rowid))
    return Corrupt(job_id, error)


def renew(conn: sqlite3.Connection, queue: str, job_id: str, token: str,
          lease: float) -> bool | Literal["cancelled"]:
    now = time.time()
    if conn.execute(Q["renew"], (now + lease, queue, job_id, token, now)).rowcount != 1:
        return False
    return CANCELLED if conn.execute(RESULTS["cancelled"], (queue, job_id, token)).fetchone() \
        else True


def settle(conn: sqlite3.Connection, outcomes: Sequence[Outcome]) -> list[bool]:
    """Apply each outcome where its token still holds the lease; one bool per outcome."""
    now = time.time()
    return [_settle_one(conn, o, now) for o in outcomes]


def _settle_one(conn: sqlite3.Connection, o: Outcome, now: float) -> bool:
    held = (o.queue, o.job_id, o.token, now)
    if o.kind == "ack" and o.result_ttl > 0 and o.result is not None:
        keep(conn, o, now)
    if o.kind == "ack":
        # fetchall: a RETURNING statement must run to its end before COMMIT.
        rows = conn.execute(Q["ack"], held).fetchall()
        if not rows:
            return False
        if rows[0][0]:
            conn.execute(Q["drop_lock"], (o.job_id,))
        return True
    if o.kind == "release":
        params = (*held, now + o.delay, 1 if o.give_back_attempt else 0, o.error)
        return bool(conn.execute(Q["release"], params).rowcount == 1)
    if conn.execute(Q["fail"], (*held, o.error or "failed", o.traceback)).rowcount != 1:
        return False
    conn.execute(Q["drop_lock"], (o.job_id,))
    return True


def keep(conn: sqlite3.Connection, o: Outcome, now: float) -> None:
    """Copy the held job with its result before its ack deletes it (sql/results.sql);
    expired results go in a bounded batch first."""
    conn.execute(RESULTS["sweep_results"], (now, KEEP_SWEEP))
    conn.execute(RESULTS["keep"], (o.queue, o.job_id, o.token, now, o.result,
                                   now + o.result_ttl))


#: Expired results deleted per keep: bounded work in the settle's transaction.
KEEP_SWEEP = 100
