"""From script replies (bytes, undecoded) to the driver protocol's dataclasses.

A job hash keeps the envelope JSON as pushed plus the fields that change
(``attempt``, ``enq``, ``avail``); they are merged here, so Lua never decodes JSON.
Everything a reply holds was stored by someone we do not control: the envelope goes
through :func:`runa_runner.records.decode_envelope`, and the other fields are read
tolerantly, so one unreadable record is failed (when reserved) or shown as
:data:`~runa_runner.records.UNREADABLE` (in ``job ID`` and ``failed list``), never
raised for the batch it came in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, get_args

from ...job import Envelope
from ...records import CorruptRecord, corrupt_error, decode_envelope, unreadable_envelope
from ...results import decode_result
from ..base import JobRecord, JobState, Reserved

#: The states a stored ``state`` field may name, typed.
_STATES: dict[str, JobState] = {name: name for name in get_args(JobState)}


@dataclass(frozen=True, slots=True)
class Corrupt:
    """A reserved record that cannot be run: moved to failed as it is stored.

    ``job_id`` is the id as stored (bytes when it is not UTF-8); ``token`` is the
    one reserve just handed out (None: reserve.lua already moved it to failed).
    """

    job_id: str | bytes
    token: str | None
    error: str

    @property
    def shown_id(self) -> str:
        return text(self.job_id)


def text(raw: Any) -> str:
    """A stored value as text for display: undecodable bytes shown escaped."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "backslashreplace")
    return "" if raw is None else str(raw)


def _opt_text(raw: Any) -> str | None:
    return None if raw is None else text(raw)


def _seconds(raw: Any) -> float:
    """A stored time; 0.0 when missing or not a number (display only)."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return 0.0
    return value if value == value and abs(value) != float("inf") else 0.0


def _count(raw: Any) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


def envelope(queue: str, job_id: str, raw: Any, attempt: Any, enq: Any, avail: Any) -> Envelope:
    """The stored envelope with its live attempt and server-stamped times; raises
    :class:`CorruptRecord` naming the defect (an ``id``/``queue`` that is not where it
    is stored included)."""
    env = decode_envelope(raw, job_id=job_id, queue=queue,
                          attempt=text(attempt) if isinstance(attempt, bytes) else attempt)
    enqueued_at, available_at = _seconds(enq), _seconds(avail)
    if (env.enqueued_at, env.available_at) == (enqueued_at, available_at):
        return env  # push.lua wrote the same times into the JSON (a first run)
    return dataclasses.replace(env, enqueued_at=enqueued_at, available_at=available_at)


def shown(queue: str, job_id: str, raw: Any, attempt: Any, enq: Any, avail: Any) -> Envelope:
    """:func:`envelope`, or the stand-in of an unreadable record (for inspection)."""
    try:
        return envelope(queue, job_id, raw, attempt, enq, avail)
    except CorruptRecord:
        return unreadable_envelope(job_id, queue, b"" if raw is None else raw,
                                   attempt=_count(attempt), enqueued_at=_seconds(enq),
                                   available_at=_seconds(avail))


def reserved(queue: str, raw: Sequence[Any]) -> tuple[list[Reserved], list[Corrupt]]:
    """Reply of reserve.lua: the readable jobs, and the records that are not.

    The reply holds lease_until, the records reserve.lua already failed (id, error),
    then id, token, env, attempt, enq, avail per job.
    """
    lease_until = float(raw[0])
    done = raw[1]
    bad = [Corrupt(done[i], None, text(done[i + 1])) for i in range(0, len(done), 2)]
    out = []
    for i in range(2, len(raw), 6):
        stored_id, token, env, attempt, enq, avail = raw[i:i + 6]
        token = text(token)
        try:
            job_id = stored_id.decode("utf-8")
            out.append(Reserved(envelope(queue, job_id, env, attempt, enq, avail),
                                token, lease_until))
        except UnicodeDecodeError:
            bad.append(Corrupt(stored_id, token, corrupt_error(CorruptRecord(
                "job id is not UTF-8"))))
        except CorruptRecord as exc:
            bad.append(Corrupt(stored_id, token, corrupt_error(exc)))
    return out, bad


def job(queue: str, job_id: str, raw: Sequence[Any] | None) -> JobRecord | None:
    """Reply of get.lua: now, state, env, attempt, enq, avail, err, tb, fat (or nil)."""
    if not raw:
        return None
    now, state, env, attempt, enq, avail, err, tb, fat = raw
    error = _opt_text(err)
    kind = _STATES.get(text(state))
    if kind is None:  # a hand-written hash in no set: say what it holds
        error = error or corrupt_error(CorruptRecord(f"field 'state' is {text(state)[:20]!r}"))
        kind = "failed"
    if kind == "pending" and _seconds(avail) > _seconds(now):
        kind = "delayed"
    return JobRecord(shown(queue, job_id, env, attempt, enq, avail), kind,
                     error, _opt_text(tb), None if fat is None else _seconds(fat))


def failed(queue: str, raw: Sequence[Any]) -> list[JobRecord]:
    """Reply of list_failed.lua: id, env, attempt, enq, avail, err, tb, fat per job."""
    out = []
    for i in range(0, len(raw), 8):
        job_id, env, attempt, enq, avail, err, tb, fat = raw[i:i + 8]
        out.append(JobRecord(shown(queue, text(job_id), env, attempt, enq, avail), "failed",
                             _opt_text(err), _opt_text(tb),
                             None if fat is None else _seconds(fat)))
    return out


def listed(queue: str, state: JobState, raw: Sequence[Any]) -> list[JobRecord]:
    """Reply of list_jobs.lua (the shape of list_failed.lua's) as ``state`` records; an
    unreadable record lists as such (never raises)."""
    if state == "failed":
        return failed(queue, raw)
    out = []
    for i in range(0, len(raw), 8):
        job_id, env, attempt, enq, avail, _err, _tb, _fat = raw[i:i + 8]
        out.append(JobRecord(shown(queue, text(job_id), env, attempt, enq, avail), state))
    return out


def kept_record(queue: str, job_id: str, raw: Sequence[Any] | None) -> JobRecord | None:
    """HMGET env, attempt, res, fin of a kept result's hash (keep.lua) as a succeeded
    record; None when there is none (never kept, or expired). Never raises."""
    if not raw or raw[0] is None:
        return None
    env, attempt, res, fin = raw
    envelope = shown(queue, job_id, env, attempt, None, None)
    try:
        result = decode_result(res)
    except CorruptRecord as exc:  # shown, never guessed
        result = f"<unreadable: {exc}>"
    return JobRecord(envelope, "succeeded", result=result, finished_at=_seconds(fin))
