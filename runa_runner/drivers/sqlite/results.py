"""Kept results and cancel requests of the SQLite driver, each function one step inside
the caller's write transaction (see ``moves.py``); the SQL is in ``sql/results.sql``."""

from __future__ import annotations

import sqlite3
import time

from ...records import CorruptRecord, decode_envelope, unreadable_envelope
from ...results import decode_result
from ..base import CancelOutcome, JobRecord
from . import admin
from .moves import recover_lapsed
from .queries import RESULTS

#: Cancel requests of ended runs deleted per cancel: bounded work.
SWEEP = 100


def kept(conn: sqlite3.Connection, queue: str, job_id: str) -> JobRecord | None:
    """The kept succeeded job, or None (never kept, or expired)."""
    row = conn.execute(RESULTS["kept"], (queue, job_id, time.time())).fetchone()
    if row is None:
        return None
    raw_env, raw_result, finished_at = row
    try:
        env = decode_envelope(raw_env, job_id=job_id, queue=queue)
        result = decode_result(raw_result)
    except CorruptRecord as exc:  # shown, never guessed: the job is there, unreadable
        env = unreadable_envelope(job_id, queue, raw_env)
        result = f"<unreadable: {exc}>"
    return JobRecord(env, "succeeded", result=result, finished_at=float(finished_at))


def cancel(conn: sqlite3.Connection, queue: str, job_id: str) -> CancelOutcome | None:
    """Delete a waiting job or record a cancel for the run holding a reserved one."""
    recover_lapsed(conn, queue, time.time())
    row = conn.execute(RESULTS["state"], (queue, job_id)).fetchone()
    if row is None:
        return "succeeded" if kept(conn, queue, job_id) is not None else None
    state, token = row
    if state == "failed":
        return "failed"
    if state == "reserved":
        conn.execute(RESULTS["sweep_cancels"], (SWEEP,))
        conn.execute(RESULTS["request_cancel"], (queue, job_id, token))
        return "requested"
    return "deleted" if admin.delete(conn, queue, job_id) else None


def get(conn: sqlite3.Connection, queue: str, job_id: str) -> JobRecord | None:
    """The job in any state, a kept succeeded one included."""
    return admin.get(conn, queue, job_id) or kept(conn, queue, job_id)
