"""The documented range of every number a user or a stored record can give us.

One table, read by the schema checks, the Python API, the CLI and the record
decoder alike, so a value that one door accepts is never refused (or crashes) at
another. The README's "Limits" table repeats it.
"""

from __future__ import annotations

import math

#: Most retries a job may have (``retry``); attempts are at most this + 1.
MAX_RETRY = 1_000_000
#: Longest duration anywhere (delay, retry_delay, timeout, unique_for, lease, ...): 10 years.
MAX_DURATION = 10 * 365 * 86_400.0
#: Deepest nesting of objects/arrays in a payload or meta (as Ruby's JSON and others cap it).
MAX_DEPTH = 64
#: Deepest payload: the envelope object around it takes one level of MAX_DEPTH.
MAX_PAYLOAD_DEPTH = MAX_DEPTH - 1
#: Largest stored envelope we decode, in bytes (a payload larger than this is refused at push).
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: Characters of an unreadable record shown in tables and errors.
PREVIEW_CHARS = 120


def check_retry(value: object, what: str = "retry") -> int:
    """``value`` as a retry count in 0..MAX_RETRY; ValueError naming ``what`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number, not {type(value).__name__}")
    if not 0 <= value <= MAX_RETRY:
        raise ValueError(f"{what} must be between 0 and {MAX_RETRY:,}, got {_short(value)}")
    return value


def check_seconds(value: object, what: str, *, minimum: float = 0.0,
                  allow_zero: bool = True) -> float:
    """``value`` as finite seconds in [minimum, MAX_DURATION]; ValueError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number of seconds, not {type(value).__name__}")
    try:
        seconds = float(value)
    except OverflowError:
        raise ValueError(f"{what} is out of range (at most {MAX_DURATION:g}s)") from None
    if math.isnan(seconds):
        raise ValueError(f"{what} must be a number of seconds, not NaN")
    if seconds == 0 and allow_zero:
        return 0.0
    if not minimum <= seconds <= MAX_DURATION:
        low = f"{minimum:g}s" if minimum else "0"
        raise ValueError(f"{what} must be between {low} and {MAX_DURATION:g}s (10 years), "
                         f"got {_short(value)}")
    return seconds


def _short(value: object) -> str:
    text = repr(value) if not isinstance(value, int) else _int_text(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _int_text(value: int) -> str:
    # str() of an int beyond sys.int_info.default_max_str_digits raises ValueError.
    if value.bit_length() > 128:
        return ("-" if value < 0 else "") + f"a {value.bit_length()}-bit integer"
    return str(value)
