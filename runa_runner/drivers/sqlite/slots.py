"""Schedule slots in SQLite: claim a slot and push its job in one transaction.

Functions run inside ``BEGIN IMMEDIATE`` (``connection.run_write``), so the watermark
check, the overlap check and the job's INSERT see and change one consistent database:
two processes claiming the same slot are serialised by the write lock, and the second
finds the watermark already moved (``taken``).
"""

from __future__ import annotations

import sqlite3
import time
from importlib import resources

from ..base import FireResult, SlotClaim, SlotState
from ..slots import slot_state
from ..sqlfiles import parse_named
from .moves import push, recover_lapsed

Q = parse_named(resources.files(__package__ or "").joinpath("sql", "schedules.sql")
                .read_text(encoding="utf-8"))


def read_state(conn: sqlite3.Connection, queue: str, schedule: str) -> SlotState | None:
    row = conn.execute(Q["slot_state"], (queue, schedule)).fetchone()
    return None if row is None else slot_state(*row)


def fire(conn: sqlite3.Connection, claim: SlotClaim) -> FireResult:
    """Claim ``claim.slot`` and push its job (see drivers/base.py SlotStore)."""
    key = (claim.queue, claim.schedule)
    state = read_state(conn, *key)  # CorruptRecord: refused before anything is written
    previous = None if state is None else state.watermark
    if state is None:
        conn.execute(Q["claim_new"], (*key, claim.slot))
    elif conn.execute(Q["claim"], (*key, claim.slot)).rowcount != 1:
        return FireResult("taken", previous=previous)
    if claim.item is None:
        return FireResult("advanced", previous=previous)
    last_job = None if state is None else state.job_id
    if claim.skip_overlap and last_job is not None:
        recover_lapsed(conn, claim.queue, time.time())  # a lapsed last attempt is failed
        if conn.execute(Q["job_live"], (claim.queue, last_job)).fetchone() is not None:
            return FireResult("skipped", last_job, previous)
    job_id = push(conn, [claim.item])[0]
    conn.execute(Q["record_fire"], (*key, claim.slot, job_id))
    return FireResult("fired", job_id, previous)
