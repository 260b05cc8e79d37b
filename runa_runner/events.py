"""Run events: the one seam where metrics, logs and traces attach to what jobs do.

The push path, the worker unit and its settler call one :class:`Observers`; each
observer overrides only the hooks it needs (the rest are no-ops)::

    on_pushed ──> on_started ──> on_settled(outcome, duration)
                       └──> on_lease_lost            on_driver_down / on_driver_up
    on_schedule_fired(lateness) / on_schedule_skipped / on_schedule_missed(count)

Today's observers: :class:`Counter` (a unit's outcome counters, written to the stats
driver by the settler) and :class:`JobLog` (the ``--verbose`` line per job). Hooks run
inline on the caller's thread and event loop, so they must be quick and must not block
(a counter, a log record); one that raises is logged and never stops a worker or a push.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from .drivers.base import Outcome, StatsDelta
from .job import Envelope

log = logging.getLogger("runa_runner.worker")

#: The hooks of :class:`Observer`, in the order jobs meet them.
HOOKS = ("on_pushed", "on_started", "on_settled", "on_lease_lost", "on_driver_down",
         "on_driver_up", "on_schedule_fired", "on_schedule_skipped", "on_schedule_missed")


def outcome_name(outcome: Outcome) -> str:
    """succeeded, failed, retried, or released (given back by a stop: not an attempt)."""
    if outcome.kind == "ack":
        return "succeeded"
    if outcome.kind == "fail":
        return "failed"
    return "released" if outcome.give_back_attempt else "retried"


class Observer:
    """Hooks called as jobs move; each is a no-op here. Override the ones you need."""

    def on_pushed(self, queue: str, job: str, ids: Sequence[str]) -> None:
        """``ids`` of ``job`` were stored in ``queue`` (one call per push or batch)."""

    def on_started(self, worker: str, envelope: Envelope) -> None:
        """A run of ``envelope`` (attempt ``envelope.attempt``) begins in ``worker``."""

    def on_settled(self, worker: str, envelope: Envelope, outcome: Outcome, held: bool,
                   duration: float) -> None:
        """The run ended as ``outcome`` after ``duration`` seconds and the driver recorded it;
        ``held`` is False when the lease had been lost (the outcome then changed nothing)."""

    def on_lease_lost(self, worker: str, envelope: Envelope) -> None:
        """The run's lease could not be renewed: it is being cancelled."""

    def on_driver_down(self, worker: str, driver: str, error: BaseException) -> None:
        """Calls to ``driver`` (its manifest name) started failing."""

    def on_driver_up(self, worker: str, driver: str) -> None:
        """Calls to ``driver`` work again."""

    def on_schedule_fired(self, schedule: str, slot: float, job_id: str,
                          lateness: float) -> None:
        """This process's scheduler pushed ``job_id`` for ``slot`` (epoch seconds),
        ``lateness`` seconds after the slot (DESIGN §10; also told ``on_pushed``)."""

    def on_schedule_skipped(self, schedule: str, slot: float, running: str) -> None:
        """``overlap: skip``: ``slot`` was claimed without a push, as job ``running`` of the
        previous fire is still pending, delayed, reserved or waiting for a retry."""

    def on_schedule_missed(self, schedule: str, slot: float, count: int) -> None:
        """``count`` slots up to ``slot`` will never fire (every scheduler was down; the
        schedule's ``catch_up`` gave them up)."""


class Observers(Observer):
    """Many observers as one. Each hook calls only the observers that override it, so
    an unused hook costs one empty loop (the hot ones are called per job)."""

    def __init__(self, observers: Iterable[Observer] = ()) -> None:
        self._all: list[Observer] = []
        self._calls: dict[str, list[Callable[..., None]]] = {hook: [] for hook in HOOKS}
        for observer in observers:
            self.add(observer)

    def add(self, observer: Observer) -> None:
        self._all.append(observer)
        for hook in HOOKS:
            if getattr(type(observer), hook, None) is not getattr(Observer, hook):
                self._calls[hook].append(getattr(observer, hook))

    def __iter__(self) -> Iterator[Observer]:
        return iter(self._all)

    def wants(self, hook: str) -> bool:
        """Whether any observer overrides ``hook`` (lets a caller skip building its args)."""
        return bool(self._calls[hook])

    def on_pushed(self, queue: str, job: str, ids: Sequence[str]) -> None:
        for call in self._calls["on_pushed"]:
            _safely(call, queue, job, ids)

    # The two hooks called per run handle errors inline: a call through _safely costs
    # about as much as a metrics observer's whole update.
    def on_started(self, worker: str, envelope: Envelope) -> None:
        for call in self._calls["on_started"]:
            try:
                call(worker, envelope)
            except Exception:  # an observer's bug must not stop a worker
                log.exception("run event observer %r failed", call)

    def on_settled(self, worker: str, envelope: Envelope, outcome: Outcome, held: bool,
                   duration: float) -> None:
        for call in self._calls["on_settled"]:
            try:
                call(worker, envelope, outcome, held, duration)
            except Exception:  # an observer's bug must not stop a worker
                log.exception("run event observer %r failed", call)

    def on_lease_lost(self, worker: str, envelope: Envelope) -> None:
        for call in self._calls["on_lease_lost"]:
            _safely(call, worker, envelope)

    def on_driver_down(self, worker: str, driver: str, error: BaseException) -> None:
        for call in self._calls["on_driver_down"]:
            _safely(call, worker, driver, error)

    def on_driver_up(self, worker: str, driver: str) -> None:
        for call in self._calls["on_driver_up"]:
            _safely(call, worker, driver)


    def on_schedule_fired(self, schedule: str, slot: float, job_id: str,
                          lateness: float) -> None:
        for call in self._calls["on_schedule_fired"]:
            _safely(call, schedule, slot, job_id, lateness)

    def on_schedule_skipped(self, schedule: str, slot: float, running: str) -> None:
        for call in self._calls["on_schedule_skipped"]:
            _safely(call, schedule, slot, running)

    def on_schedule_missed(self, schedule: str, slot: float, count: int) -> None:
        for call in self._calls["on_schedule_missed"]:
            _safely(call, schedule, slot, count)


def _safely(call: Callable[..., None], *args: Any) -> None:
    try:
        call(*args)
    except Exception:  # an observer's bug must not stop a worker or a push
        log.exception("run event observer %r failed", call)


class Counter(Observer):
    """A unit's outcome counters: ``total`` for its stop line, and the part not yet
    written to the stats driver (``take``; ``give_back`` when the write failed).
    A lost lease or a stop's release counts nothing."""

    def __init__(self) -> None:
        # succeeded, failed, retried: plain ints, as this runs once per job
        self._total = [0, 0, 0]
        self._unwritten = [0, 0, 0]

    @property
    def total(self) -> StatsDelta:
        return StatsDelta(*self._total)

    def on_settled(self, worker: str, envelope: Envelope, outcome: Outcome, held: bool,
                   duration: float) -> None:
        if not held or outcome.give_back_attempt:
            return
        i = _SLOT[outcome.kind]
        self._total[i] += 1
        self._unwritten[i] += 1

    def add(self, delta: StatsDelta) -> None:
        """Counts no settled outcome carries (e.g. a lost lease's last attempt)."""
        for counts in (self._total, self._unwritten):
            counts[0] += delta.succeeded
            counts[1] += delta.failed
            counts[2] += delta.retried

    def take(self) -> StatsDelta:
        delta = StatsDelta(*self._unwritten)
        self._unwritten = [0, 0, 0]
        return delta

    def give_back(self, delta: StatsDelta) -> None:
        u = self._unwritten
        u[0], u[1], u[2] = u[0] + delta.succeeded, u[1] + delta.failed, u[2] + delta.retried


class JobLog(Observer):
    """A unit's log records about its runs, with ``extra=`` fields (DESIGN §11): a start and
    a success at DEBUG (``work --verbose``), a retry at INFO with the error's first line, a
    final failure at WARNING with the error (its traceback at DEBUG; it is also kept with
    the job, for ``runa-runner job ID``). Lease loss and driver outages are logged where
    they are seen (the unit's renewal loop, :mod:`~runa_runner.outage`), once per batch."""

    def on_started(self, worker: str, envelope: Envelope) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("job %s %s attempt %d/%d started", envelope.job, envelope.id,
                      envelope.attempt, envelope.max_attempts,
                      extra=_fields("job.started", worker, envelope))

    def on_settled(self, worker: str, envelope: Envelope, outcome: Outcome, held: bool,
                   duration: float) -> None:
        name = outcome_name(outcome)
        extra = _fields(f"job.{name}", worker, envelope, duration=round(duration, 6))
        if not held:
            extra["event"] = "job.unheld"
            log.info("job %s %s %s after its lease was lost: nothing recorded", envelope.job,
                     envelope.id, name, extra=extra)
        elif name == "succeeded":
            if log.isEnabledFor(logging.DEBUG):
                log.debug("job %s %s succeeded", envelope.job, envelope.id, extra=extra)
        elif name == "retried":
            extra["error"] = first_line(outcome.error)
            log.info("job %s %s attempt %d/%d failed, retry in %gs: %s", envelope.job,
                     envelope.id, envelope.attempt, envelope.max_attempts, outcome.delay,
                     extra["error"], extra=extra)
        elif name == "released":
            log.info("job %s %s released to its queue (worker stopping; attempt given back)",
                     envelope.job, envelope.id, extra=extra)
        else:
            _failed(envelope, outcome, extra)


def _failed(envelope: Envelope, outcome: Outcome, extra: dict[str, Any]) -> None:
    extra["error"] = outcome.error or ""
    log.warning("job %s %s failed for good after attempt %d/%d: %s", envelope.job, envelope.id,
                envelope.attempt, envelope.max_attempts, first_line(outcome.error), extra=extra)
    if outcome.traceback and log.isEnabledFor(logging.DEBUG):
        log.debug("job %s %s traceback:\n%s", envelope.job, envelope.id,
                  outcome.traceback.rstrip(), extra={**extra, "event": "job.traceback"})


def _fields(event: str, worker: str, env: Envelope, **more: Any) -> dict[str, Any]:
    return {"event": event, "worker": worker, "queue": env.queue, "job": env.job, "id": env.id,
            "attempt": env.attempt, **more}


def first_line(text: str | None) -> str:
    """A message's first non-blank line (an error as one log line)."""
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


#: Counter's slot per outcome kind.
_SLOT = {"ack": 0, "fail": 1, "release": 2}
