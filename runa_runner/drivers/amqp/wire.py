"""Message bodies and properties: the job envelope on a work queue, a failed record
on a failed queue, and the attempt arithmetic of redeliveries.

A work-queue message body is exactly the envelope JSON (DESIGN.md §8), so a
producer in another language can publish one. A failed-queue body wraps it:
``{"envelope": {...}, "error", "traceback", "failed_at", "raw"}`` (``raw`` holds an
escaped preview of a message that could not be read; its envelope is then a
placeholder named ``<unreadable record>``). Every body read back is untrusted and
goes through records.py. Bodies, not headers, carry errors:
tracebacks can outgrow a header frame.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from aiormq import spec
from aiormq.abc import DeliveredMessage

from ...job import Envelope
from ...records import (
    UNREADABLE,
    CorruptRecord,
    corrupt_error,
    decode_envelope,
    envelope_from_dict,
    loads,
    preview,
    unreadable_envelope,
)
from ..base import JobRecord

PERSISTENT = 2
#: Characters of an unreadable body kept in its failed record, for a human to look at.
RAW_KEPT = 2000


def properties(message_id: str) -> spec.Basic.Properties:
    return spec.Basic.Properties(
        content_type="application/json", delivery_mode=PERSISTENT, message_id=message_id
    )


def job_body(env: Envelope) -> bytes:
    return env.to_json().encode()


def delivery_count(msg: DeliveredMessage) -> int:
    """Times the broker handed this message out before (quorum queues count returns)."""
    headers = msg.header.properties.headers or {}
    value = headers.get("x-delivery-count")
    return value if isinstance(value, int) else 0


def decode_job(msg: DeliveredMessage, queue: str) -> Envelope:
    """The envelope of a delivery from ``queue``'s work queue, checked (records.py).

    Raises CorruptRecord naming the defect; an envelope of another queue, or whose id
    is not the message's ``message_id`` (when it has one), is corrupt too.
    """
    return decode_envelope(msg.body, job_id=msg.header.properties.message_id or None,
                           queue=queue)


def record_id(message_id: str | None, body: bytes) -> str:
    """An id for a record that cannot be read: its message_id when that is usable, else
    one derived from the bytes (stable, so ``failed retry/delete ID`` can name it)."""
    if message_id and len(message_id) <= 100 and message_id.isprintable():
        return message_id
    return "unreadable-" + hashlib.sha256(body).hexdigest()[:16]


def corrupt_record(queue: str, msg: DeliveredMessage, exc: CorruptRecord) -> FailedRecord:
    """The failed record of an unreadable delivery: a placeholder envelope (named
    UNREADABLE, with an escaped preview as payload) and a longer preview as ``raw``."""
    now = time.time()
    env = unreadable_envelope(record_id(msg.header.properties.message_id, msg.body), queue,
                              msg.body, enqueued_at=now, available_at=now)
    return FailedRecord(env, corrupt_error(exc), None, now, preview(msg.body, RAW_KEPT))


@dataclass(frozen=True, slots=True)
class FailedRecord:
    envelope: Envelope
    error: str
    traceback: str | None
    failed_at: float
    raw: str | None = None

    def to_body(self) -> bytes:
        data: dict[str, Any] = {
            "envelope": self.envelope.to_dict(), "error": self.error,
            "traceback": self.traceback, "failed_at": self.failed_at,
        }
        if self.raw is not None:
            data["raw"] = self.raw
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_body(cls, queue: str, body: bytes, message_id: str | None = None) -> FailedRecord:
        """Decode a failed-queue body; never raises. A body that cannot be read, or whose
        envelope cannot, lists as UNREADABLE under a stable id, with what could be read."""
        try:
            data = loads(body, "failed record")
            if not isinstance(data, dict):
                raise CorruptRecord("failed record is not a JSON object")
        except CorruptRecord as exc:
            env = unreadable_envelope(record_id(message_id, body), queue, body)
            return cls(env, corrupt_error(exc), None, 0.0, preview(body, RAW_KEPT))
        inner = data.get("envelope")
        try:
            if not isinstance(inner, dict):
                raise CorruptRecord("failed record has no envelope object")
            env = envelope_from_dict(inner)
        except CorruptRecord:
            env = unreadable_envelope(record_id(message_id, body), queue, json.dumps(inner))
        error, traceback, raw = (data.get(k) for k in ("error", "traceback", "raw"))
        failed_at = data.get("failed_at")
        return cls(
            env, error if isinstance(error, str) and error else "failed",
            traceback if isinstance(traceback, str) else None,
            float(failed_at) if isinstance(failed_at, int | float) and 0 <= failed_at < 1e11
            else 0.0,
            raw if isinstance(raw, str) else None,
        )

    @property
    def readable(self) -> bool:
        """False for the placeholder of a record that could not be read (never retried)."""
        return self.envelope.job != UNREADABLE

    def record(self) -> JobRecord:
        return JobRecord(self.envelope, "failed", self.error, self.traceback, self.failed_at)
