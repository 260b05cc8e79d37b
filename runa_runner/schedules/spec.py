"""A compiled schedule: what the manifest's ``schedules:`` entry (or ``r.schedule``) says,
checked once, with its calendar built (DESIGN §10)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ..durations import format_duration
from ..specs import frozen_map
from .calendar import Calendar, calendar, time_zone

CatchUp = Literal["latest", "all", "none"]
Overlap = Literal["allow", "skip"]
CATCH_UP: tuple[CatchUp, ...] = ("latest", "all", "none")
OVERLAP: tuple[Overlap, ...] = ("allow", "skip")
#: A slot later than this when a scheduler first sees it is missed (DESIGN §10).
DEFAULT_GRACE = 60.0


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """One schedule; ``queue`` is resolved (the job's queue when the entry names none)."""

    name: str
    job: str
    queue: str
    cron: str | None
    every: float | None
    timezone: str = "UTC"
    payload: Any = None
    catch_up: CatchUp = "latest"
    grace: float = DEFAULT_GRACE
    overlap: Overlap = "allow"
    meta: Mapping[str, Any] = field(default_factory=frozen_map)
    calendar: Calendar = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    @classmethod
    def build(
        cls, name: str, job: str, queue: str, *, cron: str | None = None,
        every: float | None = None, timezone: str = "UTC", payload: Any = None,
        catch_up: str = "latest", grace: float = DEFAULT_GRACE, overlap: str = "allow",
        meta: Mapping[str, Any] | None = None,
    ) -> ScheduleSpec:
        """Check the settings and build the calendar.

        Raises:
            ValueError: what is wrong (the caller adds where).
        """
        if catch_up not in CATCH_UP:
            raise ValueError(f"catch_up must be one of {', '.join(CATCH_UP)}, got {catch_up!r}")
        if overlap not in OVERLAP:
            raise ValueError(f"overlap must be one of {', '.join(OVERLAP)}, got {overlap!r}")
        if isinstance(grace, bool) or not isinstance(grace, int | float) or not grace >= 0:
            raise ValueError(f"grace must be a duration >= 0, got {grace!r}")
        if every is not None and (isinstance(every, bool) or not isinstance(every, int | float)):
            raise ValueError(f"every must be a duration > 0, got {every!r}")
        cal = calendar(cron, None if every is None else float(every), timezone)
        return cls(name, job, queue, cron, None if every is None else float(every),
                   timezone, payload, catch_up, float(grace), overlap, frozen_map(meta), cal)

    @property
    def when(self) -> str:
        """The cron text, or ``every 15m``."""
        if self.cron is not None:
            return self.cron
        assert self.every is not None
        return f"every {format_duration(self.every)}"

    def local(self, slot: float) -> str:
        """``slot`` as ISO 8601 in the schedule's zone, with its UTC offset."""
        return datetime.fromtimestamp(slot, time_zone(self.timezone)).isoformat()


def utc_iso(slot: float) -> str:
    """``slot`` as ISO 8601 in UTC (``scheduled_for``): ``2027-03-28T01:00:00+00:00``."""
    return datetime.fromtimestamp(slot, UTC).isoformat()
