"""From script replies to the driver protocol's dataclasses.

A job hash keeps the envelope JSON as pushed plus the fields that change
(``attempt``, ``enq``, ``avail``); they are merged here, so Lua never decodes JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...job import Envelope
from ..base import JobRecord, JobState, Reserved

#: Job name given to an envelope that cannot be decoded, so the worker fails it
#: (unknown job) instead of the whole batch raising.
UNREADABLE = "<unreadable envelope>"


def envelope(queue: str, job_id: str, raw: str, attempt: Any, enq: Any, avail: Any) -> Envelope:
    """The stored envelope with its live attempt and server-stamped times."""
    try:
        data = json.loads(raw)
        data["attempt"] = int(attempt)
        data["enqueued_at"] = float(enq)
        data["available_at"] = float(avail)
        return Envelope.from_dict(data)
    except json.JSONDecodeError as exc:
        reason = f"job envelope is not JSON: {exc}"
    except (ValueError, TypeError) as exc:
        reason = str(exc) or type(exc).__name__
    # The reason rides in the job name, so the worker's "unknown job" failure says why.
    return Envelope(id=job_id, queue=queue, job=f"{UNREADABLE[:-1]}: {reason}>", payload=raw,
                    attempt=int(attempt), enqueued_at=float(enq or 0),
                    available_at=float(avail or 0))


def reserved(queue: str, raw: Sequence[Any], token_prefix: str) -> list[Reserved]:
    """Reply of reserve.lua: lease_until, then id, env, attempt, enq, avail per job."""
    lease_until = float(raw[0])
    out = []
    for n, i in enumerate(range(1, len(raw), 5), start=1):
        job_id, env = raw[i], raw[i + 1]
        if env is None:  # a ready entry without its hash (never written by us): skipped
            continue
        out.append(Reserved(envelope(queue, job_id, env, raw[i + 2], raw[i + 3], raw[i + 4]),
                            f"{token_prefix}{n}", lease_until))
    return out


def job(queue: str, job_id: str, raw: Sequence[Any] | None) -> JobRecord | None:
    """Reply of get.lua: now, state, env, attempt, enq, avail, err, tb, fat (or nil)."""
    if not raw:
        return None
    now, state, env, attempt, enq, avail, err, tb, fat = raw
    shown: JobState = state
    if state == "pending" and float(avail) > float(now):
        shown = "delayed"
    return JobRecord(envelope(queue, job_id, env, attempt, enq, avail), shown, err, tb,
                     None if fat is None else float(fat))


def failed(queue: str, raw: Sequence[Any]) -> list[JobRecord]:
    """Reply of list_failed.lua: id, env, attempt, enq, avail, err, tb, fat per job."""
    out = []
    for i in range(0, len(raw), 8):
        job_id, env, attempt, enq, avail, err, tb, fat = raw[i:i + 8]
        out.append(JobRecord(envelope(queue, job_id, env, attempt, enq, avail), "failed",
                             err, tb, None if fat is None else float(fat)))
    return out


def listed(queue: str, state: JobState, raw: Sequence[Any]) -> list[JobRecord]:
    """Reply of list_jobs.lua (the shape of list_failed.lua's) as ``state`` records."""
    if state == "failed":
        return failed(queue, raw)
    out = []
    for i in range(0, len(raw), 8):
        job_id, env, attempt, enq, avail, _err, _tb, _fat = raw[i:i + 8]
        out.append(JobRecord(envelope(queue, job_id, env, attempt, enq, avail), state))
    return out
