"""Reading the columns of a ``jobs`` row, which another program may have written.

SQLite columns take any value whatever their declared type: an ``attempt`` of
``'abc'``, an ``available_at`` of 1e400 (stored as Inf) or TEXT that is not
UTF-8 (which sqlite3 refuses to fetch as ``str``). The queries therefore fetch
text columns ``CAST(... AS BLOB)`` and every value goes through a check here:
:func:`envelope` is the row's job or :class:`CorruptRecord` naming the defect,
and :func:`text`/:func:`number` read a column for display without ever raising.
"""

from __future__ import annotations

import math
from typing import Any

from ...job import Envelope
from ...records import CorruptRecord, decode_envelope, preview

#: Epoch seconds a stored time may hold (year ~2400; records.py refuses the same).
MAX_EPOCH = 13_500_000_000.0


def job_id(raw: Any) -> str:
    """The ``id`` column (fetched as bytes) as text; CorruptRecord if it is none."""
    if isinstance(raw, bytes):
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptRecord("column 'id' is not UTF-8") from None
        if value and len(value) <= 1000:
            return value
    raise CorruptRecord("column 'id' must be a non-empty text of at most 1,000 characters")


def epoch(value: Any, column: str) -> float:
    """A time column: a finite number of epoch seconds; CorruptRecord otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool) \
            and math.isfinite(value) and 0 <= value <= MAX_EPOCH:
        return float(value)
    shown = preview(value, 40) if isinstance(value, str | bytes) else repr(value)
    raise CorruptRecord(f"column '{column}' must be epoch seconds, not {shown}")


def envelope(raw: Any, *, job: str, queue: str, attempt: Any, available_at: Any) -> Envelope:
    """The row's envelope with its columns overlaid, every part checked."""
    env = decode_envelope(raw, job_id=job, queue=queue, attempt=_column_attempt(attempt))
    return env.evolve(available_at=epoch(available_at, "available_at"))


def _column_attempt(value: Any) -> Any:
    if isinstance(value, bytes):  # a BLOB: no number at all
        raise CorruptRecord(f"column 'attempt' must be a whole number, not {preview(value, 40)}")
    if value is None:
        raise CorruptRecord("column 'attempt' is NULL")
    return value  # decode_envelope checks type and range, naming the field


def text(raw: Any) -> str | None:
    """A text column for display: UTF-8, or the escaped preview of its bytes."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return preview(raw, 2000)
    return str(raw)


def number(value: Any, default: float = 0.0) -> float:
    """A numeric column for display; ``default`` when it holds anything else."""
    try:
        return epoch(value, "")
    except CorruptRecord:
        return default


def count(value: Any) -> int:
    """An attempt column for display; 0 when it holds anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**7:
        return value
    return 0
