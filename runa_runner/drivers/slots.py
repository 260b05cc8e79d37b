"""Reading a schedule's stored slot state, which is untrusted like every stored record.

Each driver keeps ``watermark``, ``fired`` and ``job`` per (queue, schedule) in its own
way (a dict, a ``schedule_slots`` row, a Redis hash); :func:`slot_state` turns what it
read into a :class:`~runa_runner.drivers.base.SlotState` or raises
:class:`~runa_runner.records.CorruptRecord` naming the defect (never a guess: a wrong
watermark would fire a slot twice or skip it).
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..records import CorruptRecord
from .base import SlotState

#: A stored time as we write it (float() alone would also read "1_0", " 1", "infinity").
_NUMBER = re.compile(r"\d+(\.\d*)?")
#: Longest job id we accept from a stored state (ours are 26 characters).
MAX_JOB_ID = 200


def slot_state(watermark: Any, fired: Any, job_id: Any) -> SlotState:
    """The state from stored values (strings, numbers or None)."""
    mark = _time(watermark, "watermark")
    if mark is None:
        raise CorruptRecord("schedule state has no watermark")
    last = _time(fired, "fired")
    if job_id is not None and (not isinstance(job_id, str) or not 0 < len(job_id) <= MAX_JOB_ID):
        raise CorruptRecord(f"schedule state has a bad job id: {str(job_id)[:40]!r}")
    return SlotState(mark, last, job_id)


def _time(value: Any, what: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str) and not _NUMBER.fullmatch(value):
        raise CorruptRecord(f"schedule state's {what} is not a number: {value[:40]!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CorruptRecord(f"schedule state's {what} is not a number: "
                            f"{str(value)[:40]!r}") from None
    if not math.isfinite(number) or abs(number) > 1e11:
        raise CorruptRecord(f"schedule state's {what} is out of range: {str(value)[:40]!r}")
    return number
