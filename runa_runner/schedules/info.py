"""The rows of ``schedule list`` and ``registry.schedule_info()``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..drivers.base import Capability, Driver
from ..errors import DriverUnavailable
from ..specs import QueueSpec
from .firing import slot_store
from .spec import ScheduleSpec

OpenDriver = Callable[[str], Awaitable[Driver]]


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


async def schedule_info(
    schedules: Mapping[str, ScheduleSpec], queues: Mapping[str, QueueSpec],
    drivers: Mapping[str, Driver], open_driver: OpenDriver, *, now: float | None = None,
    down: dict[str, str] | None = None,
) -> list[ScheduleInfo]:
    """Every schedule's row. With ``down`` given, a driver that cannot be reached is
    recorded there (name -> reason) and its rows show no last fire, instead of raising;
    an in-process driver's rows too (another process's state is not here)."""
    now = time.time() if now is None else now
    rows = []
    for s in schedules.values():
        name = queues[s.queue].driver
        local = Capability.CROSS_PROCESS not in drivers[name].capabilities
        ask = None if down is not None and (name in down or local) else open_driver
        rows.append(await _row(s, name, ask, now, down))
    return rows


async def _row(s: ScheduleSpec, name: str, open_driver: OpenDriver | None, now: float,
               down: dict[str, str] | None) -> ScheduleInfo:
    upcoming = s.calendar.next_after(now)
    row = ScheduleInfo(s.name, s.job, s.queue, s.when, s.timezone,
                       None if upcoming is None else s.local(upcoming), None, None)
    if open_driver is None:
        return row
    try:
        state = await slot_store(await open_driver(name), name).slot_state(s.queue, s.name)
    except DriverUnavailable as exc:
        if down is None:
            raise
        down[name] = exc.message
        return row
    if state is None or state.fired is None:
        return row
    return ScheduleInfo(row.name, row.job, row.queue, row.when, row.timezone, row.next,
                        s.local(state.fired), state.job_id)
