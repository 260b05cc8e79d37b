"""The scheduler: fires the slots of some schedules of a frozen registry, forever or once.

Any number of schedulers may run at once (every ``work`` process runs one): each slot
is claimed in the driver in one atomic step, so exactly one of them pushes its job.
Between slots a scheduler sleeps until the next slot is due (at most
:data:`MAX_NAP`), costing no driver call while nothing is due.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..drivers.base import FireResult, SlotStore
from ..errors import DriverError, DriverUnavailable, PayloadInvalid
from ..records import CorruptRecord
from ..registry import Registry
from .firing import fire_step, slot_store
from .plan import MAX_PER_PASS, Step, count_between, plan
from .spec import ScheduleSpec, utc_iso

log = logging.getLogger("runa_runner.schedules")

#: Longest sleep between two passes (a changed wall clock is noticed this fast).
MAX_NAP = 5.0
#: Pause before a schedule whose driver failed is tried again (doubles up to MAX_NAP).
RETRY_AFTER = 0.5
#: A slot is due this long after its time at the latest (sleep overshoot guard).
_SLACK = 0.001

EventKind = Literal["fired", "skipped", "missed"]


@dataclass(frozen=True, slots=True)
class ScheduleEvent:
    """What a scheduler did about a slot, for hooks and metrics.

    ``fired``: this scheduler pushed ``job_id``, ``lateness`` seconds after the slot.
    ``skipped``: ``overlap: skip`` and the previous job (``job_id``) still runs.
    ``missed``: ``count`` slots up to ``slot`` will never fire (every scheduler was down).
    """

    schedule: str
    kind: EventKind
    slot: float
    job_id: str | None = None
    lateness: float = 0.0
    count: int = 1


Hook = Callable[[ScheduleEvent], None]


class Scheduler:
    """Fires ``names`` (default: every schedule of ``registry``).

    Args:
        clock: epoch seconds now (tests pass their own; slots come from it).
        on_event: called with every :class:`ScheduleEvent` this scheduler causes.
    """

    def __init__(self, registry: Registry, names: Sequence[str] | None = None, *,
                 clock: Callable[[], float] = time.time,
                 on_event: Hook | None = None) -> None:
        registry._freeze_on_use()
        self.registry = registry
        chosen = list(registry.schedules) if names is None else list(dict.fromkeys(names))
        self.specs: tuple[ScheduleSpec, ...] = tuple(registry.schedule_spec(n) for n in chosen)
        self.clock = clock
        self.hooks: list[Hook] = [] if on_event is None else [on_event]
        self._stores: dict[str, SlotStore] = {}
        #: schedule -> the newest slot known handled, and the slot after it (no driver
        #: call and no cron arithmetic until that one is due)
        self._handled: dict[str, float] = {}
        self._next: dict[str, float | None] = {}
        #: schedule -> when to try again after a failure, and the pause after that
        self._retry: dict[str, tuple[float, float]] = {}
        self._reported: dict[str, str] = {}
        self._stop = asyncio.Event()

    # ---- running ------------------------------------------------------------------

    async def run(self, *, burst: bool = False) -> None:
        """Fire slots as they come due until :meth:`stop` (``burst``: one pass, then return)."""
        self._stop.clear()
        if not burst:
            log.info("scheduler started (%s)", ", ".join(s.name for s in self.specs) or "none")
        while not self._stop.is_set():
            more = await self.run_pass(self.clock())
            if burst and not more:
                return
            if more:
                await asyncio.sleep(0)
                continue
            try:
                async with asyncio.timeout(self.nap(self.clock())):
                    await self._stop.wait()
            except TimeoutError:
                pass
        log.info("scheduler stopped")

    def stop(self) -> None:
        self._stop.set()

    def nap(self, now: float) -> float:
        """Seconds until the next slot due (or retry), at most MAX_NAP."""
        wake = now + MAX_NAP
        for spec in self.specs:
            retry = self._retry.get(spec.name)
            if retry is not None:
                wake = min(wake, retry[0])
                continue
            slot = self._next.get(spec.name, now)
            if slot is not None:
                wake = min(wake, slot + _SLACK)
        return max(0.0, wake - now)

    async def run_pass(self, now: float) -> bool:
        """Claim what is due at ``now`` for every schedule; True if some have more due."""
        more = False
        for spec in self.specs:
            if not self._due(spec, now):
                continue
            try:
                more |= await self._run_one(spec, now)
            except (DriverError, CorruptRecord, PayloadInvalid) as exc:
                self._failed(spec, now, exc)
            except Exception as exc:  # a push middleware's bug: this schedule waits, not all
                self._failed(spec, now, exc, traceback=True)
            else:
                self._retry.pop(spec.name, None)
                self._reported.pop(spec.name, None)
        return more

    def _due(self, spec: ScheduleSpec, now: float) -> bool:
        retry = self._retry.get(spec.name)
        if retry is not None:
            return now >= retry[0]
        if spec.name not in self._next:
            return True
        slot = self._next[spec.name]
        return slot is not None and slot <= now

    async def _run_one(self, spec: ScheduleSpec, now: float) -> bool:
        store = await self._store(spec)
        job, queue = self.registry.job_spec(spec.job), self.registry.queue_spec(spec.queue)
        chain = [*self.registry.push_middleware, *queue.middleware]
        state = await store.slot_state(spec.queue, spec.name)
        steps = plan(spec, state, now)
        for step in steps:
            result = await fire_step(store, spec, step, job, queue, chain)
            self._report(spec, step, result, state is None)
            self._mark(spec, step.slot)
        if not steps:
            self._mark(spec, now if state is None else state.watermark)
        return len(steps) >= MAX_PER_PASS

    def _mark(self, spec: ScheduleSpec, slot: float) -> None:
        """Slots up to ``slot`` are handled: nothing to do before the next one."""
        handled = max(slot, self._handled.get(spec.name, slot))
        self._handled[spec.name] = handled
        self._next[spec.name] = spec.calendar.next_after(handled)

    async def _store(self, spec: ScheduleSpec) -> SlotStore:
        store = self._stores.get(spec.queue)
        if store is None:
            name = self.registry.queue_spec(spec.queue).driver
            driver = await self.registry.open_driver(name)
            store = self._stores[spec.queue] = slot_store(driver, name)
        return store

    # ---- reporting ------------------------------------------------------------------

    def _report(self, spec: ScheduleSpec, step: Step, result: FireResult, first: bool) -> None:
        if result.outcome == "taken" or first:
            return
        if result.previous is not None:
            gap = count_between(spec.calendar, result.previous, step.slot)
            if result.outcome == "advanced":
                gap += 1  # this slot is given up too (catch_up: none)
            if gap:
                self._emit(ScheduleEvent(spec.name, "missed", step.slot, count=gap))
                log.warning("schedule %s missed %d slot(s) up to %s (catch_up: %s)", spec.name,
                            gap, utc_iso(step.slot), spec.catch_up)
        if result.outcome == "fired":
            late = max(0.0, self.clock() - step.slot)
            self._emit(ScheduleEvent(spec.name, "fired", step.slot, result.job_id, late))
            log.info("schedule %s fired for %s: job %s on queue %s (%.3fs late)", spec.name,
                     utc_iso(step.slot), result.job_id, spec.queue, late,
                     extra={"event": "schedule.fired", "schedule": spec.name, "job": spec.job,
                            "queue": spec.queue, "id": result.job_id})
        elif result.outcome == "skipped":
            self._emit(ScheduleEvent(spec.name, "skipped", step.slot, result.job_id))
            log.info("schedule %s skipped %s: its previous job %s is still running "
                     "(overlap: skip)", spec.name, utc_iso(step.slot), result.job_id)

    def _emit(self, event: ScheduleEvent) -> None:
        self._tell(event)
        for hook in self.hooks:
            try:
                hook(event)
            except Exception:  # a broken hook must not stop the schedules
                log.exception("schedule event hook %r failed", hook)

    def _tell(self, event: ScheduleEvent) -> None:
        """The registry's run events (metrics and logs observe schedules there)."""
        events = self.registry.events
        if event.kind == "fired" and event.job_id is not None:
            spec = self.registry.schedule_spec(event.schedule)
            events.on_pushed(spec.queue, spec.job, [event.job_id])
            events.on_schedule_fired(event.schedule, event.slot, event.job_id, event.lateness)
        elif event.kind == "skipped" and event.job_id is not None:
            events.on_schedule_skipped(event.schedule, event.slot, event.job_id)
        elif event.kind == "missed":
            events.on_schedule_missed(event.schedule, event.slot, event.count)

    def _failed(self, spec: ScheduleSpec, now: float, exc: Exception, *,
                traceback: bool = False) -> None:
        _, pause = self._retry.get(spec.name, (now, RETRY_AFTER / 2))
        pause = min(pause * 2, MAX_NAP)
        self._retry[spec.name] = (now + pause, pause)
        text = f"schedule {spec.name}: {exc}"
        if self._reported.get(spec.name) != text:  # once per distinct failure, not per retry
            self._reported[spec.name] = text
            level = logging.WARNING if isinstance(exc, DriverUnavailable) else logging.ERROR
            log.log(level, "%s (retrying every %gs at most)", text, MAX_NAP,
                    exc_info=exc if traceback else None)
