"""From rows to the driver protocol's dataclasses; every stored envelope is untrusted.

A row keeps the envelope as pushed plus the columns that change (``attempt``,
``enqueued_at``, ``available_at``); they are laid over the decoded envelope here.
A row that cannot be read raises :class:`CorruptRecord` (reserve moves it to failed)
or, where it is only shown (``get``, ``failed list``), reads as an unreadable stand-in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ...job import Envelope
from ...records import CorruptRecord, decode_envelope, unreadable_envelope
from ..base import JobRecord, JobState

#: Epoch seconds beyond this (year ~2400) are not times the driver wrote.
_EPOCH_LIMIT = 13_500_000_000.0


def envelope(raw: Any, job_id: str, queue: str, attempt: Any, enqueued_at: Any,
             available_at: Any) -> Envelope:
    """The row's envelope with its live columns; CorruptRecord naming the defect."""
    env = decode_envelope(raw, job_id=job_id, queue=queue, attempt=attempt)
    return env.evolve(enqueued_at=_epoch(enqueued_at, "enqueued_at"),
                      available_at=_epoch(available_at, "available_at"))


def _epoch(value: Any, column: str) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= _EPOCH_LIMIT:
        raise CorruptRecord(f"column {column} holds {value!r}, not a time")
    return float(value)


def shown(raw: Any, job_id: str, queue: str, attempt: Any, enqueued_at: Any,
          available_at: Any) -> Envelope:
    """The envelope to show; an unreadable row becomes a stand-in with a preview."""
    try:
        return envelope(raw, job_id, queue, attempt, enqueued_at, available_at)
    except CorruptRecord:
        return unreadable_envelope(
            job_id, queue, raw, attempt=attempt if isinstance(attempt, int) else 0,
            enqueued_at=_or_zero(enqueued_at), available_at=_or_zero(available_at))


def _or_zero(value: Any) -> float:
    try:
        return _epoch(value, "")
    except CorruptRecord:
        return 0.0


def job(queue: str, row: Sequence[Any]) -> JobRecord:
    """A ``get`` / ``list_failed`` row: id, state, envelope, attempt, enqueued_at,
    available_at, error, traceback, failed_at, now."""
    job_id, state, raw, attempt, enq, avail, error, tb, failed_at, now = row
    env = shown(raw, job_id, queue, attempt, enq, avail)
    kind: JobState = "failed" if state == "failed" else "reserved"
    if state == "pending":
        kind = "delayed" if isinstance(avail, float) and avail > now else "pending"
    return JobRecord(env, kind, error, tb, failed_at)
