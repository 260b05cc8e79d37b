"""Pause and flow control: what a driver keeps per queue so every worker process obeys it.

A queue may be *paused* (it takes pushes and keeps its jobs; nothing reserves from it)
and may carry two limits, handed to ``reserve`` as a :class:`Flow`:

* ``max_running`` — at most N of its jobs reserved at once, across every process. A slot
  is a live lease: a crashed worker's slot frees when its lease lapses.
* ``rate`` — at most N *starts* (reservations) in any window of the rate's length: a
  sliding window, so no second (minute, hour) of wall time, aligned or not, sees more
  than N starts. The driver keeps the start times of the last N starts.

A job held back stays pending: it is never reserved, so it spends no attempt and no
retry. The paused flag and the start times live in the driver; the limits themselves
come from the registry with every reserve, so they never go stale in storage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

#: Rate windows by their unit (``10/1s``, ``600/1m``, ``5000/1h``).
WINDOWS = {"s": 1.0, "m": 60.0, "h": 3600.0}
#: Most starts a rate may allow per window (the driver keeps one time per start).
MAX_RATE = 100_000
_RATE_RE = re.compile(r"^\s*(\d{1,12})\s*/\s*1([smh])\s*$")
RATE_HINT = "a rate like '10/1s' (N starts per 1s, 1m or 1h, N from 1 to 100,000)"


class RateError(ValueError):
    """A rate that is not ``N/1s``, ``N/1m`` or ``N/1h``."""


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``limit`` starts in any ``window`` seconds."""

    limit: int
    window: float

    def __str__(self) -> str:
        unit = next(u for u, w in WINDOWS.items() if w == self.window)
        return f"{self.limit}/1{unit}"


def parse_rate(value: object) -> Rate:
    """``"10/1s"`` -> Rate(10, 1.0); a Rate is returned as it is.

    Raises:
        RateError: anything else, with what was expected.
    """
    if isinstance(value, Rate):
        return value
    match = _RATE_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise RateError(f"expected {RATE_HINT}, got {value!r}")
    limit = int(match.group(1))
    if not 1 <= limit <= MAX_RATE:
        raise RateError(f"expected {RATE_HINT}, got {value!r}")
    return Rate(limit, WINDOWS[match.group(2)])


@dataclass(frozen=True, slots=True)
class Flow:
    """A queue's limits, as ``reserve`` and ``held`` take them (None: no limit)."""

    max_running: int | None = None
    rate: Rate | None = None

    def __bool__(self) -> bool:
        return self.max_running is not None or self.rate is not None


HoldReason = Literal["paused", "max_running", "rate"]


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a queue's due jobs are not reserved now; ``retry_in``: seconds until a rate
    window opens (None: unknown, a slot frees when some run ends or the queue resumes)."""

    reason: HoldReason
    retry_in: float | None = None

    def describe(self, flow: Flow) -> str:
        """``queue paused``, ``max_running 2 reached``, ``rate 10/1s reached``."""
        if self.reason == "paused":
            return "queue paused"
        if self.reason == "max_running":
            return f"max_running {flow.max_running} reached"
        return f"rate {flow.rate} reached"


def allowance(count: int, flow: Flow, running: int, started: int) -> int:
    """How many of ``count`` jobs may start now, with ``running`` reserved and ``started``
    starts inside the rate's window (the drivers' one rule, in Python)."""
    if flow.max_running is not None:
        count = min(count, flow.max_running - running)
    if flow.rate is not None:
        count = min(count, flow.rate.limit - started)
    return max(count, 0)


def hold_of(flow: Flow, paused: bool, running: int, started: int,
            oldest_start: float | None, now: float) -> Hold | None:
    """The hold on a queue with due jobs, from what a driver read (None: none holds)."""
    if paused:
        return Hold("paused")
    if flow.max_running is not None and running >= flow.max_running:
        return Hold("max_running")
    if flow.rate is not None and started >= flow.rate.limit:
        opens = flow.rate.window if oldest_start is None else oldest_start + flow.rate.window
        return Hold("rate", max(0.0, min(opens - now, flow.rate.window)))
    return None


@runtime_checkable
class FlowStore(Protocol):
    """The pause operations of a driver with :attr:`Capability.PAUSE` (and, with
    :attr:`Capability.FLOW_CONTROL`, ``reserve(..., flow=...)`` honours the limits)."""

    async def set_paused(self, queue: str, paused: bool) -> bool:
        """Pause or resume ``queue``; return whether it was paused before. A resume wakes
        idle workers as a push does."""
        ...

    async def paused(self, queue: str) -> bool: ...

    async def held(self, queue: str, flow: Flow) -> Hold | None:
        """Why the queue's due jobs wait now, or None when none is due or nothing holds."""
        ...
