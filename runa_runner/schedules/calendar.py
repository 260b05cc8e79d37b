"""When a schedule's slots fall: cron expressions in a time zone, or fixed periods.

Slots are epoch seconds (UTC), the same in every process: a cron slot is what
cronsim gives for the expression in the schedule's zone (Debian cron's DST rules: a
time skipped by spring-forward fires once at the first instant after the gap, a time
repeated by fall-back fires once at its first occurrence, an hour-wildcard expression
follows real time); an ``every: D`` slot is a whole multiple of D since the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

#: Most steps a search for the previous cron slot takes before giving up (a guard:
#: cronsim's reverse answer is corrected forward, never trusted blindly).
_MAX_STEPS = 10_000


class Calendar(Protocol):
    """The slots of one schedule."""

    def next_after(self, t: float) -> float | None:
        """The first slot strictly after ``t`` (None: the expression never fires again)."""
        ...

    def latest(self, t: float) -> float | None:
        """The newest slot at or before ``t`` (None: there is none)."""
        ...


class Every:
    """Slots at whole multiples of ``period`` seconds since the Unix epoch."""

    def __init__(self, period: float) -> None:
        if not period > 0 or not math.isfinite(period):
            raise ValueError(f"every must be a duration > 0, got {period!r}")
        self.period = period

    def slot(self, k: int) -> float:
        return k * self.period

    def next_after(self, t: float) -> float:
        k = math.floor(t / self.period) + 1
        while self.slot(k - 1) > t:  # float rounding at the boundary
            k -= 1
        while self.slot(k) <= t:
            k += 1
        return self.slot(k)

    def latest(self, t: float) -> float:
        k = math.floor(t / self.period)
        while self.slot(k) > t:
            k -= 1
        while self.slot(k + 1) <= t:
            k += 1
        return self.slot(k)


class Cron:
    """Slots of a 5-field cron expression read in the IANA time zone ``zone``."""

    def __init__(self, expr: str, zone: str) -> None:
        self.expr = expr
        self.zone = time_zone(zone)
        check_cron(expr)

    def _forward(self, t: float) -> Iterator[datetime]:
        return CronSim(self.expr, datetime.fromtimestamp(t, self.zone))

    def next_after(self, t: float) -> float | None:
        # cronsim starts from the wall-clock time; during a repeated hour that can yield a
        # time already passed (its first occurrence), so skip anything not after ``t``.
        for step, dt in enumerate(self._forward(t)):
            if dt.timestamp() > t:
                return dt.timestamp()
            if step > _MAX_STEPS:
                break
        return None

    def latest(self, t: float) -> float | None:
        start = datetime.fromtimestamp(t, self.zone)
        found: float | None = None
        for step, dt in enumerate(CronSim(self.expr, start, reverse=True)):
            if dt.timestamp() <= t:
                found = dt.timestamp()
                break
            if step > _MAX_STEPS:
                return None
        if found is None:
            return None
        # Walk forward from there: the answer is the last slot the forward rules give.
        for _ in range(_MAX_STEPS):
            later = self.next_after(found)
            if later is None or later > t:
                return found
            found = later
        return found


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as "
                         "'Europe/Berlin' or 'UTC')") from None


def check_cron(expr: str) -> None:
    """ValueError saying what is wrong with ``expr`` (5 fields, as Debian cron reads them)."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron expression {expr!r} has {len(fields)} fields; expected 5 "
                         "(minute hour day-of-month month day-of-week)")
    try:
        CronSim(expr, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from None


def calendar(cron: str | None, every: float | None, zone: str) -> Calendar:
    """The calendar of a schedule; ValueError when the definition is invalid."""
    if (cron is None) == (every is None):
        raise ValueError("give exactly one of cron and every")
    time_zone(zone)
    if cron is not None:
        return Cron(cron, zone)
    assert every is not None
    return Every(every)
