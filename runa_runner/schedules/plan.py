"""Which slots one scheduler pass claims, from the stored state and the time (pure).

Rules (DESIGN §10): a schedule with no state starts at ``now`` (nothing in the past
fires). Slots after the watermark that are at most ``grace`` old are on time and fire,
oldest first. Older ones were missed (every scheduler was down): ``catch_up: all`` fires
them oldest first, ``latest`` fires the newest of them unless an on-time slot fires in
the same pass, ``none`` gives them up. Firing a slot moves the watermark past every
older one, so a slot left out of a plan never fires later.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..drivers.base import SlotState
from .calendar import Calendar, Every
from .spec import ScheduleSpec

#: Most slots one pass claims for one schedule (``catch_up: all`` after a long outage
#: fires the rest in the next passes, which follow at once).
MAX_PER_PASS = 100
#: Most slots counted when reporting how many were missed.
MAX_COUNTED = 100_000
#: Slots within this of the grace limit count as on time (float rounding).
_EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class Step:
    """Claim ``slot``; ``push`` False only moves the watermark (first sight, given up)."""

    slot: float
    push: bool = True


def plan(spec: ScheduleSpec, state: SlotState | None, now: float) -> list[Step]:
    """The claims of one pass at ``now``, oldest first."""
    if state is None:
        return [Step(now, push=False)]
    cal = spec.calendar
    first = cal.next_after(state.watermark)
    if first is None or first > now:
        return []
    if spec.catch_up == "all":
        return _slots(cal, first, now)
    cutoff = now - spec.grace
    if first >= cutoff - _EPSILON:
        return _slots(cal, first, now)
    on_time_from = cal.next_after(cutoff - _EPSILON)
    on_time = [] if on_time_from is None else _slots(cal, on_time_from, now)
    if on_time:
        return on_time  # they move the watermark past the missed ones
    newest_missed = cal.latest(now)
    if newest_missed is None or newest_missed <= state.watermark:
        return []
    return [Step(newest_missed, push=spec.catch_up == "latest")]


def _slots(cal: Calendar, first: float, now: float) -> list[Step]:
    out: list[Step] = []
    slot: float | None = first
    while slot is not None and slot <= now and len(out) < MAX_PER_PASS:
        out.append(Step(slot))
        slot = cal.next_after(slot)
    return out


def count_between(cal: Calendar, after: float, before: float) -> int:
    """How many slots lie strictly between ``after`` and ``before`` (at most MAX_COUNTED)."""
    if isinstance(cal, Every):  # arithmetic: a day of `every: 1s` is not walked slot by slot
        first, last = cal.next_after(after), cal.latest(before)
        if last >= before:
            last -= cal.period
        return 0 if first > last else min(MAX_COUNTED, round((last - first) / cal.period) + 1)
    n = 0
    slot = cal.next_after(after)
    while slot is not None and slot < before and n < MAX_COUNTED:
        n += 1
        slot = cal.next_after(slot)
    return n
