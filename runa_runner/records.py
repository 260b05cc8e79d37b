"""Reading stored records, which are untrusted: another language, an old version or a
bug may have written them.

:func:`decode_envelope` is the one door from stored bytes to an :class:`Envelope`:
strict UTF-8, JSON within :data:`~runa_runner.limits.MAX_DEPTH` with finite numbers,
every field of the right type and range, and an ``id``/``queue`` that agree with where
the record is stored. Anything else raises :class:`CorruptRecord` naming the defect;
drivers move such a record to failed in the step that found it, so one bad record
never stops the others. :func:`preview` and :func:`unreadable_envelope` let
``failed list`` and ``job ID`` show such a record without decoding it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .job import Envelope
from .limits import MAX_DEPTH, MAX_DURATION, MAX_RECORD_BYTES, MAX_RETRY, PREVIEW_CHARS

#: Job name shown for a stored record that cannot be read (tables, ``job ID``).
UNREADABLE = "<unreadable record>"
#: Prefix of the error stored on a record moved to failed because it could not be read.
CORRUPT = "corrupt record"


class CorruptRecord(ValueError):
    """A stored record cannot be read; the message names the defect."""


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise CorruptRecord(f"number {text[:20]} is out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise CorruptRecord(f"{name} is not valid JSON")


def loads(raw: str | bytes | bytearray | memoryview, what: str = "record") -> Any:
    """Strict, bounded JSON: UTF-8, at most MAX_DEPTH deep, finite numbers only."""
    if isinstance(raw, memoryview | bytearray):
        raw = bytes(raw)
    if len(raw) > MAX_RECORD_BYTES:
        raise CorruptRecord(f"{what} is {len(raw):,} bytes (at most {MAX_RECORD_BYTES:,})")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorruptRecord(f"{what} is not UTF-8 (byte {exc.start})") from None
    else:
        text = raw
    if too_deep(text):
        raise CorruptRecord(f"{what} is nested deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
    except CorruptRecord:
        raise
    except RecursionError:
        raise CorruptRecord(f"{what} is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of too many digits
        raise CorruptRecord(f"{what} is not JSON: {_first_line(str(exc))}") from None
    if _SURROGATE_ESCAPE.search(text) and not _encodable(data):
        # "\ud800" alone is valid JSON but no text: UTF-8 cannot store it again.
        raise CorruptRecord(f"{what} holds a lone surrogate (\\ud800-\\udfff), not text")
    return data


#: A JSON escape of a UTF-16 surrogate; only then can decoded text fail to encode.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _encodable(value: Any) -> bool:
    """Every string in ``value`` (keys included) encodes to UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON ``text`` nests objects/arrays deeper than ``limit``, without parsing.

    Cheap upper bound first (brackets counted); exact only when that bound is high.
    """
    opens = text.count("[") + text.count("{")
    if opens <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def decode_envelope(raw: Any, *, job_id: str | None = None, queue: str | None = None,
                    attempt: Any = None) -> Envelope:
    """The stored envelope, checked; raises :class:`CorruptRecord` naming the defect.

    ``job_id``/``queue`` are where the record is stored: an envelope that says
    otherwise is corrupt (settling it would touch another job's keys). ``attempt``
    is the live attempt where the driver keeps it apart from the JSON.
    """
    if not isinstance(raw, str | bytes | bytearray | memoryview):
        raise CorruptRecord(f"stored value is {type(raw).__name__}, not JSON text")
    data = loads(raw, "envelope")
    if not isinstance(data, dict):
        raise CorruptRecord("envelope is not a JSON object")
    if attempt is not None:
        data["attempt"] = attempt
    env = envelope_from_dict(data)
    if job_id is not None and env.id != job_id:
        raise CorruptRecord(f"envelope says id {_clip(env.id)!r} but is stored as {job_id!r}")
    if queue is not None and env.queue != queue:
        raise CorruptRecord(
            f"envelope says queue {_clip(env.queue)!r} but is stored in queue {queue!r}")
    return env


def envelope_from_dict(data: dict[str, Any]) -> Envelope:
    """Fields checked for type and range (DESIGN §8); CorruptRecord naming the field."""
    meta = data.get("meta")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        raise CorruptRecord("field 'meta' must be an object")
    unique = data.get("unique")
    if unique is not None and not isinstance(unique, str):
        raise CorruptRecord("field 'unique' must be a string or null")
    timeout = data.get("timeout")
    return Envelope(
        id=_text(data, "id"),
        queue=_text(data, "queue"),
        job=_text(data, "job"),
        payload=data.get("payload"),
        attempt=_count(data, "attempt", MAX_RETRY + 1),
        max_retries=_count(data, "max_retries", MAX_RETRY),
        retry_delay=_seconds(data, "retry_delay", 0.0),
        timeout=None if timeout is None else _seconds(data, "timeout", 0.0),
        meta=meta,
        unique=unique,
        enqueued_at=_seconds(data, "enqueued_at", 0.0, limit=_EPOCH_LIMIT),
        available_at=_seconds(data, "available_at", 0.0, limit=_EPOCH_LIMIT),
        result_ttl=_seconds(data, "result_ttl", 0.0),
    )


#: Epoch seconds beyond this (year ~2400) are not times we wrote.
_EPOCH_LIMIT = 13_500_000_000.0


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise CorruptRecord(f"field '{key}' must be a non-empty string")
    if len(value) > 1000:
        raise CorruptRecord(f"field '{key}' is {len(value):,} characters (at most 1,000)")
    return value


def _count(data: dict[str, Any], key: str, limit: int) -> int:
    value = data.get(key)
    if value is None:
        return 0
    if isinstance(value, str) and value.isdigit() and len(value) <= 12:
        value = int(value)  # drivers that keep counters as text (Redis hash fields)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CorruptRecord(f"field '{key}' must be a whole number, not {_clip(repr(value))}")
    if not 0 <= value <= limit:
        raise CorruptRecord(f"field '{key}' is out of range (0 to {limit:,})")
    return value


def _seconds(data: dict[str, Any], key: str, default: float,
             limit: float = MAX_DURATION) -> float:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        text = value
        try:
            value = float(text)
        except ValueError:
            raise CorruptRecord(f"field '{key}' must be a number, not {_clip(text)!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CorruptRecord(f"field '{key}' must be a number")
    try:
        seconds = float(value)
    except OverflowError:
        raise CorruptRecord(f"field '{key}' is out of range") from None
    if not 0 <= seconds <= limit:  # NaN fails both comparisons
        raise CorruptRecord(f"field '{key}' is out of range (0 to {limit:g})")
    return seconds


def preview(raw: Any, limit: int = PREVIEW_CHARS) -> str:
    """A short, escaped, single-line view of raw stored bytes, safe for a table."""
    if isinstance(raw, memoryview | bytearray):
        raw = bytes(raw)
    if isinstance(raw, bytes):
        text = raw[: limit * 4].decode("utf-8", "surrogateescape")
    else:
        text = str(raw)[: limit * 4]
    escaped = "".join(_escape(ch) for ch in text)
    return escaped if len(escaped) <= limit else escaped[: limit - 3] + "..."


def _escape(ch: str) -> str:
    if ch.isprintable() and ch != "\\":
        return ch
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return ch.encode("unicode_escape").decode("ascii")


def unreadable_envelope(job_id: str, queue: str, raw: Any, *, attempt: int = 0,
                        enqueued_at: float = 0.0, available_at: float = 0.0) -> Envelope:
    """A stand-in for a record that cannot be read: named :data:`UNREADABLE`, with the
    escaped preview of its raw bytes as payload, so lists and ``job ID`` can show it."""
    return Envelope(id=job_id, queue=queue, job=UNREADABLE, payload=preview(raw),
                    attempt=attempt if 0 <= attempt <= MAX_RETRY + 1 else 0,
                    enqueued_at=enqueued_at, available_at=available_at)


def corrupt_error(exc: Exception) -> str:
    """The error stored on a record moved to failed because it could not be read."""
    return f"{CORRUPT}: {exc}"


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else text
