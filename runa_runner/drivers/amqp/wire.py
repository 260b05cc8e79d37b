"""Message bodies and properties: the job envelope on a work queue, a failed record
on a failed queue, and the attempt arithmetic of redeliveries.

A work-queue message body is exactly the envelope JSON (DESIGN.md §8), so a
producer in another language can publish one. A failed-queue body wraps it:
``{"envelope": {...}, "error", "traceback", "failed_at", "raw"}`` (``raw`` holds
the original text of a corrupt message). Bodies, not headers, carry errors:
tracebacks can outgrow a header frame.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from aiormq import spec
from aiormq.abc import DeliveredMessage

from ...job import Envelope, new_id
from ..base import JobRecord

PERSISTENT = 2


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


def decode_job(msg: DeliveredMessage) -> Envelope:
    """The envelope of a work-queue delivery; raises ``ValueError`` when corrupt."""
    return Envelope.from_json(msg.body)


def corrupt_envelope(queue: str, msg: DeliveredMessage) -> Envelope:
    """A stand-in envelope for a message that is not a job, so it can be listed."""
    message_id = msg.header.properties.message_id
    return Envelope(
        id=message_id or new_id(), queue=queue, job="(corrupt)", payload=None,
        enqueued_at=time.time(), available_at=time.time(),
    )


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
    def from_body(cls, queue: str, body: bytes) -> FailedRecord:
        """Decode a failed-queue body; anything unreadable becomes a corrupt record."""
        try:
            data = json.loads(body)
            return cls(
                Envelope.from_dict(data["envelope"]), str(data.get("error") or "failed"),
                data.get("traceback"), float(data.get("failed_at") or 0.0), data.get("raw"),
            )
        except (ValueError, TypeError, KeyError):
            env = Envelope(id=new_id(), queue=queue, job="(corrupt)", payload=None)
            return cls(env, "unreadable failed record", None, 0.0,
                       body.decode("utf-8", "replace"))

    def record(self) -> JobRecord:
        return JobRecord(self.envelope, "failed", self.error, self.traceback, self.failed_at)
