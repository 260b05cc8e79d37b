"""The job a handler receives, and the wire envelope every driver stores.

The envelope is plain JSON (never pickle), documented in the README so that a
producer in another language can push.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_id_lock = threading.Lock()
_last_ms = 0
_seq = 0


def new_id() -> str:
    """A 26-character, time-ordered job id: 12 hex of epoch ms, 4 of sequence, 10 random.

    Ids created by one process sort in creation order; ids from different
    processes sort by millisecond.
    """
    global _last_ms, _seq
    with _id_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _seq += 1
            if _seq > 0xFFFF:
                ms += 1
                _seq = 0
        else:
            _seq = 0
        _last_ms = ms
        seq = _seq
    return f"{ms:012x}{seq:04x}{os.urandom(5).hex()}"


def new_ids(count: int) -> list[str]:
    """``count`` ids exactly as ``count`` calls of :func:`new_id` make them, with one
    lock and one read of randomness (a bulk push makes thousands)."""
    global _last_ms, _seq
    marks: list[tuple[int, int]] = []
    with _id_lock:
        ms = time.time_ns() // 1_000_000
        seq = -1
        if ms <= _last_ms:
            ms, seq = _last_ms, _seq
        for _ in range(count):
            seq += 1
            if seq > 0xFFFF:
                ms += 1
                seq = 0
            marks.append((ms, seq))
        _last_ms, _seq = ms, seq
    rand = os.urandom(5 * count).hex()
    return [f"{ms:012x}{seq:04x}{rand[10 * n:10 * n + 10]}"
            for n, (ms, seq) in enumerate(marks)]


@dataclass(frozen=True, slots=True)
class Envelope:
    """One job on the wire (DESIGN.md §8). Times are epoch seconds.

    ``attempt`` counts reservations: 0 while never run, 1 during the first run.
    """

    id: str
    queue: str
    job: str
    payload: Any
    attempt: int = 0
    max_retries: int = 0
    retry_delay: float = 1.0
    timeout: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    unique: str | None = None
    enqueued_at: float = 0.0
    available_at: float = 0.0
    #: seconds a succeeded run's result is kept (0: the job is deleted at once)
    result_ttl: float = 0.0

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def to_dict(self) -> dict[str, Any]:
        wire = {
            "id": self.id,
            "queue": self.queue,
            "job": self.job,
            "payload": self.payload,
            "attempt": self.attempt,
            "max_retries": self.max_retries,
            "retry_delay": self.retry_delay,
            "timeout": self.timeout,
            "meta": self.meta,
            "unique": self.unique,
            "enqueued_at": self.enqueued_at,
            "available_at": self.available_at,
        }
        if self.result_ttl:  # absent when 0: the wire of a job without results is unchanged
            wire["result_ttl"] = self.result_ttl
        return wire

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any) -> Envelope:
        """Build from decoded JSON; raises ``ValueError`` naming the bad field."""
        if not isinstance(data, dict):
            raise ValueError("job envelope is not a JSON object")
        try:
            return cls(
                id=_req_str(data, "id"),
                queue=_req_str(data, "queue"),
                job=_req_str(data, "job"),
                payload=data.get("payload"),
                attempt=int(data.get("attempt") or 0),
                max_retries=int(data.get("max_retries") or 0),
                retry_delay=float(data.get("retry_delay") or 0.0),
                timeout=None if data.get("timeout") is None else float(data["timeout"]),
                meta=dict(data.get("meta") or {}),
                unique=None if data.get("unique") is None else str(data["unique"]),
                enqueued_at=float(data.get("enqueued_at") or 0.0),
                available_at=float(data.get("available_at") or 0.0),
                result_ttl=float(data.get("result_ttl") or 0.0),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad job envelope: {exc}") from None

    @classmethod
    def from_json(cls, raw: str | bytes) -> Envelope:
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"job envelope is not JSON: {exc}") from None
        return cls.from_dict(data)

    def evolve(self, **changes: Any) -> Envelope:
        """A copy with ``changes``; drivers call this per job, so it avoids
        ``dataclasses.replace`` (which re-validates every field, ~3x slower)."""
        new = object.__new__(Envelope)
        for name in _ENVELOPE_FIELDS:
            object.__setattr__(new, name, changes.pop(name) if name in changes
                               else getattr(self, name))
        if changes:
            raise TypeError(f"Envelope has no field(s) {', '.join(changes)}")
        return new


_ENVELOPE_FIELDS = tuple(f.name for f in fields(Envelope))


def _req_str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"field '{key}' must be a non-empty string")
    return value


@dataclass(frozen=True, slots=True)
class Job(Generic[T]):
    """What a handler receives: ``async def handler(job: Job[MyPayload]) -> None``.

    ``cancelled`` is set when the run's timeout expires or its lease is lost;
    sync handlers (run in a thread, which cannot be killed) should check it.
    """

    id: str
    name: str
    queue: str
    payload: T
    attempt: int
    max_attempts: int
    meta: dict[str, Any]
    enqueued_at: float
    timeout: float | None
    cancelled: threading.Event = field(default_factory=threading.Event, compare=False)
