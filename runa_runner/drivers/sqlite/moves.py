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
from typing import Any

from ...job import Envelope
from ..base import LEASE_LOST, Outcome, PushItem, Reserved, unique_lock_key
from .queries import Q

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
    conn.executemany(Q["drop_lock"], failed)
    conn.execute(Q["lapsed_to_pending"], (queue, now))


def reserve(conn: sqlite3.Connection, queue: str, count: int, lease: float) -> list[Reserved]:
    """Reserve up to ``count`` due jobs, oldest due first; unreadable rows go to failed."""
    now = time.time()
    recover_lapsed(conn, queue, now)
    rows = conn.execute(Q["due"], (queue, now, count)).fetchall()
    out: list[Reserved] = []
    updates: list[tuple[Any, ...]] = []
    for job_id, raw, attempt, available_at, lock, unique_until in rows:
        try:
            env = read_envelope(raw, job_id, queue)
        except ValueError as exc:
            conn.execute(Q["mark_corrupt"], (f"corrupt envelope: {exc}", _raw(raw), now, job_id))
            conn.execute(Q["drop_lock"], (job_id,))
            continue
        env = env.evolve(attempt=attempt + 1, available_at=available_at)
        token = os.urandom(8).hex()
        drop = lock is not None and unique_until == "start"
        if drop:
            conn.execute(Q["drop_lock"], (job_id,))
        updates.append((token, now + lease, env.attempt, env.to_json(), job_id, drop))
        out.append(Reserved(env, token, now + lease))
    conn.executemany(Q["mark_reserved"], updates)
    return out


def read_envelope(raw: Any, job_id: str, queue: str) -> Envelope:
    """The row's envelope; ValueError if unreadable or if it describes another job."""
    if not isinstance(raw, str | bytes):
        raise ValueError(f"stored value is {type(raw).__name__}, not JSON text")
    env = Envelope.from_json(raw)
    if env.id != job_id or env.queue != queue:
        raise ValueError(f"envelope says job {env.id!r} on queue {env.queue!r}")
    return env


def _raw(raw: Any) -> str:
    text = raw if isinstance(raw, str) else repr(raw)
    return "raw envelope: " + (text if len(text) <= _RAW_KEPT else text[:_RAW_KEPT] + "...")


def renew(conn: sqlite3.Connection, queue: str, job_id: str, token: str, lease: float) -> bool:
    now = time.time()
    return conn.execute(Q["renew"], (now + lease, queue, job_id, token, now)).rowcount == 1


def settle(conn: sqlite3.Connection, outcomes: Sequence[Outcome]) -> list[bool]:
    """Apply each outcome where its token still holds the lease; one bool per outcome."""
    now = time.time()
    return [_settle_one(conn, o, now) for o in outcomes]


def _settle_one(conn: sqlite3.Connection, o: Outcome, now: float) -> bool:
    held = (o.queue, o.job_id, o.token, now)
    if o.kind == "ack":
        # fetchall: a RETURNING statement must run to its end before COMMIT.
        rows = conn.execute(Q["ack"], held).fetchall()
        if not rows:
            return False
        if rows[0][0] is not None:
            conn.execute(Q["drop_lock"], (o.job_id,))
        return True
    if o.kind == "release":
        params = (*held, now + o.delay, 1 if o.give_back_attempt else 0, o.error)
        return bool(conn.execute(Q["release"], params).rowcount == 1)
    if conn.execute(Q["fail"], (*held, o.error or "failed", o.traceback)).rowcount != 1:
        return False
    conn.execute(Q["drop_lock"], (o.job_id,))
    return True
