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
#: Most jobs one worker process runs at once (``concurrency``).
MAX_CONCURRENCY = 10_000
#: Most connections of one driver's pool (``pool_size``).
MAX_POOL_SIZE = 10_000
#: Largest ``max_payload_bytes`` of a queue: a bigger record could not be read back.
MAX_PAYLOAD_BYTES = MAX_RECORD_BYTES
#: Largest ``max_running`` of a queue (jobs in flight across every worker process).
MAX_RUNNING = 1_000_000
#: Below this a lease risks lapsing while its job runs (``validate`` warns).
SHORT_LEASE = 1.0


#: Whole-number settings and their inclusive ranges.
COUNTS: dict[str, tuple[int, int]] = {
    "retry": (0, MAX_RETRY),
    "concurrency": (1, MAX_CONCURRENCY),
    "max_payload_bytes": (1, MAX_PAYLOAD_BYTES),
    "pool_size": (1, MAX_POOL_SIZE),
    "max_running": (1, MAX_RUNNING),
}
#: Duration settings that must be > 0 (every other duration may be 0).
POSITIVE_DURATIONS = frozenset({"lease", "poll_interval"})


def check_setting(key: str, value: object) -> int | float:
    """A queue, worker, job or push setting in its range: a count of :data:`COUNTS`, else a
    duration in seconds; ValueError naming ``key`` otherwise."""
    if key in COUNTS:
        return check_count(value, key, *COUNTS[key])
    return check_seconds(value, key, positive=key in POSITIVE_DURATIONS)


def check_retry(value: object, what: str = "retry") -> int:
    """``value`` as a retry count in 0..MAX_RETRY; ValueError naming ``what`` otherwise."""
    return check_count(value, what, 0, MAX_RETRY)


def check_count(value: object, what: str, low: int, high: int) -> int:
    """``value`` as a whole number in ``low..high``; ValueError naming ``what`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low:,} and {high:,}, got {_short(value)}")
    return value


def check_seconds(value: object, what: str, *, positive: bool = False, minimum: float = 0.0,
                  allow_zero: bool = True) -> float:
    """``value`` as finite seconds in [minimum, MAX_DURATION]; 0 is allowed unless
    ``positive`` (or ``allow_zero`` False); ValueError naming ``what`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number of seconds, not {type(value).__name__}")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if math.isnan(seconds):
        raise ValueError(f"{what} must be a number of seconds, not NaN")
    positive = positive or not allow_zero
    if seconds == 0 and not positive:
        return 0.0
    if not minimum <= seconds <= MAX_DURATION or (positive and seconds == 0):
        low = f"at least {minimum:g}s" if minimum else "more than 0" if positive else "at least 0"
        raise ValueError(f"{what} must be {low} and at most {MAX_DURATION:.0f} seconds "
                         f"(10 years), got {_short(value)}")
    return seconds


def short(value: object) -> str:
    """``value`` for a message: at most 40 characters, a huge integer by its size."""
    return _short(value)


def _short(value: object) -> str:
    text = repr(value) if not isinstance(value, int) else _int_text(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _int_text(value: int) -> str:
    # str() of an int beyond sys.int_info.default_max_str_digits raises ValueError.
    if value.bit_length() > 128:
        return f"a {'negative ' if value < 0 else ''}{value.bit_length()}-bit integer"
    return str(value)
