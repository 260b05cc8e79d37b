"""The rows of ``schedule list`` and ``registry.schedule_info()``."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..drivers.base import Capability
from ..errors import DriverUnavailable
from .firing import slot_store
from .spec import ScheduleSpec

if TYPE_CHECKING:
    from ..registry import Registry


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """One schedule: fields as ``schedule list --json`` prints them; times are ISO 8601 in
    the schedule's zone; ``last_*`` are None before the first fire (or when unknown)."""

    name: str
    job: str
    queue: str
    when: str
    timezone: str
    next: str | None
    last_slot: str | None
    last_job: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def schedule_info(registry: Registry, *, now: float | None = None,
                        down: dict[str, str] | None = None) -> list[ScheduleInfo]:
    """Every schedule's row. With ``down`` given, a driver that cannot be reached is
    recorded there (name -> reason) and its rows show no last fire, instead of raising."""
    now = time.time() if now is None else now
    return [await _row(registry, s, now, down) for s in registry.schedules.values()]


async def _row(registry: Registry, s: ScheduleSpec, now: float,
               down: dict[str, str] | None) -> ScheduleInfo:
    upcoming = s.calendar.next_after(now)
    row = ScheduleInfo(s.name, s.job, s.queue, s.when, s.timezone,
                       None if upcoming is None else s.local(upcoming), None, None)
    name = registry.queue_spec(s.queue).driver
    if down is not None and (name in down or Capability.CROSS_PROCESS
                             not in registry.drivers[name].capabilities):
        return row  # unreachable, or in-process (another process's state is not here)
    try:
        state = await slot_store(await registry.open_driver(name), name).slot_state(
            s.queue, s.name)
    except DriverUnavailable as exc:
        if down is None:
            raise
        down[name] = exc.message
        return row
    if state is None or state.fired is None:
        return row
    return ScheduleInfo(row.name, row.job, row.queue, row.when, row.timezone, row.next,
                        s.local(state.fired), state.job_id)
