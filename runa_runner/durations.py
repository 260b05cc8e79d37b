"""Duration strings (``"100ms"``, ``"1h30m"``, ``5``) to seconds."""

from __future__ import annotations

import math
import re

from .limits import MAX_DURATION, short

#: Seconds per unit (Go's time.ParseDuration units, plus days and weeks).
UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}

_UNIT = "ns|us|µs|ms|s|m|h|d|w"  # "ms" before "m" and "s": the longest name wins
_PART = rf"(?:\d+(?:\.\d+)?|\.\d+)(?:{_UNIT})"
#: The whole grammar: one or more number+unit parts, e.g. 1h30m or 1.5s.
DURATION_RE = re.compile(rf"^(?:{_PART})+$")
_PART_RE = re.compile(rf"(\d+(?:\.\d+)?|\.\d+)({_UNIT})")


class DurationError(ValueError):
    """Not a duration."""


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds.

    Accepts a non-negative number of seconds or a string of number+unit parts
    (``ns us µs ms s m h d w``), e.g. ``"250ms"``, ``"1h30m"``, ``"7d"``; a bare numeric
    string is seconds too. At most :data:`~runa_runner.limits.MAX_DURATION` (10 years).

    Raises:
        DurationError: with a message saying what was expected.
    """
    if isinstance(value, bool):
        raise DurationError(f"expected a duration like '5s' or '1h30m', got {value!r}")
    if isinstance(value, int | float):
        return _seconds(value, value)
    if not isinstance(value, str):
        raise DurationError(f"expected a duration like '5s' or '1h30m', got {value!r}")
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None and text and text[0].isdigit():
        return _seconds(number, value)
    if len(text) > 200 or not DURATION_RE.match(text):
        raise DurationError(
            f"invalid duration {short(value)} (expected e.g. '100ms', '5s', '2m', '24h', '1h30m')"
        )
    return _seconds(sum(float(n) * UNITS[u] for n, u in _PART_RE.findall(text)), value)


def _seconds(number: float, written: object) -> float:
    """``number`` checked against the documented range, ``written`` named in the error."""
    if isinstance(number, int) and abs(number) > MAX_DURATION:
        number = math.inf if number > 0 else -math.inf  # float(10**400) raises OverflowError
    if math.isnan(number):
        raise DurationError(f"expected a duration, got {short(written)}")
    if number < 0:
        raise DurationError(f"expected a non-negative duration, got {short(written)}")
    if number > MAX_DURATION:
        raise DurationError(f"expected a duration of at most 10 years, got {short(written)}")
    return float(number)


def is_duration(value: object) -> bool:
    """True when :func:`parse_duration` accepts ``value``."""
    try:
        parse_duration(value)
    except DurationError:
        return False
    return True


def format_duration(seconds: float) -> str:
    """Render seconds compactly (``90`` -> ``"1m30s"``), for messages and ``--explain``."""
    if seconds == 0:
        return "0s"
    if seconds < 0.001:
        return f"{seconds * 1e6:g}us"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    out = []
    rest = seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if rest >= size:
            n = int(rest // size)
            out.append(f"{n}{unit}")
            rest -= n * size
    if rest or not out:
        out.append(f"{rest:g}s")
    return "".join(out)
