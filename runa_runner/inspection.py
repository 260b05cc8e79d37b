"""The read and admin API over a registry's drivers.

Everything that looks at or repairs stored jobs goes through :class:`Inspector`: the
``list``, ``job`` and ``failed`` commands, the registry's ``queue_info`` & co., and the
dashboard and metrics exporter to come (DESIGN §11, §12). Its shapes are theirs:
``list --json`` rows, the ``job --json`` object, a ``{"jobs", "next"}`` page.

Reads survive a driver that does not answer: its values become None (never a guess
such as 0) and :attr:`Inspector.down` says which driver failed and why, for the caller
to warn with. A driver that failed once is not asked again by the same inspector, so an
outage costs one connect timeout per driver, not one per queue. Admin operations (retry,
delete, purge) raise instead: acting on a driver that cannot be reached is no guess to
make quietly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from .drivers.base import LIST_STATES, Capability, Driver, JobRecord, ListState
from .drivers.flow import Flow, FlowStore
from .errors import ConfigError, DriverUnavailable, Unsupported
from .specs import JobInfo, QueueInfo, QueueSpec, WorkerInfo, WorkerSpec

T = TypeVar("T")

#: Jobs per page of :meth:`Inspector.jobs` unless asked otherwise, and the most allowed.
PAGE = 50
MAX_PAGE = 1000


class Catalog(Protocol):
    """What the inspector needs of a registry (a frozen one: these never change)."""

    @property
    def queues(self) -> Mapping[str, QueueSpec]: ...

    @property
    def workers(self) -> Mapping[str, WorkerSpec]: ...

    @property
    def drivers(self) -> Mapping[str, Driver]: ...

    def queue_spec(self, name: str) -> QueueSpec: ...

    def queues_of(self, worker: str) -> list[QueueSpec]: ...

    def stats_driver_name(self, worker: str) -> str: ...

    async def open_driver(self, name: str) -> Driver: ...


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of a queue's jobs, newest first; ``next`` is the ``after`` of the next page
    (None on the last page)."""

    jobs: list[JobInfo]
    next: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"jobs": [j.to_dict() for j in self.jobs], "next": self.next}


def record_info(rec: JobRecord, held: str | None = None) -> JobInfo:
    """A stored job as the API shows it (the ``job --json`` fields); ``held``: why a
    pending job waits (a paused queue, a reached limit)."""
    env = rec.envelope
    fields = dict(
        id=env.id, queue=env.queue, job=env.job, state=rec.state, attempts=env.attempt,
        max_attempts=env.max_attempts, payload=env.payload, meta=dict(env.meta),
        error=rec.error, enqueued_at=env.enqueued_at, available_at=env.available_at,
        held=held,
    )
    if rec.state == "succeeded":
        return JobInfo.kept(rec.result, rec.finished_at, **fields)
    return JobInfo.with_traceback(rec.traceback, rec.failed_at, **fields)


class Inspector:
    """Reads and repairs the jobs of one registry's queues.

    Args:
        registry: a registry (opening drivers freezes it).
        outside: True in a process that does not run the workers (the CLI, an exporter):
            an in-process driver then reports None, since its jobs live elsewhere.
    """

    def __init__(self, registry: Catalog, *, outside: bool = False) -> None:
        self.registry = registry
        self.outside = outside
        #: driver name -> why it could not be reached (reads carried on without it)
        self.down: dict[str, str] = {}

    # ---- reads (outage-tolerant) -------------------------------------------------

    def sees(self, driver: str) -> bool:
        """Whether this process can see the jobs of ``driver`` at all."""
        caps = self.registry.drivers[driver].capabilities
        return not self.outside or Capability.CROSS_PROCESS in caps

    async def ask(self, driver: str, call: Callable[[Driver], Awaitable[T]]) -> T | None:
        """``call`` on the opened driver, or None when it is down or out of sight."""
        if driver in self.down or not self.sees(driver):
            return None
        try:
            return await call(await self.registry.open_driver(driver))
        except DriverUnavailable as exc:
            self.down[driver] = exc.message
            return None

    async def queues(self) -> list[QueueInfo]:
        """Counts per queue (None where the driver cannot count or did not answer)."""
        return [await self.queue(q) for q in self.registry.queues.values()]

    async def queue(self, q: QueueSpec) -> QueueInfo:
        c = await self.ask(q.driver, lambda d: d.counts(q.name))
        if c is None:
            return QueueInfo(q.name, q.driver, list(q.workers), None, None, None, None)
        paused = None
        if Capability.PAUSE in self.registry.drivers[q.driver].capabilities:
            paused = await self.ask(q.driver, lambda d: _flow_store(d).paused(q.name))
        return QueueInfo(q.name, q.driver, list(q.workers),
                         c.pending, c.delayed, c.reserved, c.failed, paused)

    async def workers(self) -> list[WorkerInfo]:
        """Counters per worker pool, summed over its processes, and live instances."""
        return [await self.worker(w) for w in self.registry.workers.values()]

    async def worker(self, w: WorkerSpec) -> WorkerInfo:
        queues = [q.name for q in self.registry.queues_of(w.name)]
        where = self.registry.stats_driver_name(w.name)
        c = await self.ask(where, lambda d: d.worker_counts(w.name))
        if c is None:
            return WorkerInfo(w.name, queues, w.concurrency, None, None, None, None, None)
        return WorkerInfo(w.name, queues, w.concurrency,
                          c.instances, c.processed, c.succeeded, c.failed, c.retried)

    async def job(self, job_id: str, queue: str | None = None) -> JobInfo | None:
        """The stored job, or None (a succeeded job is deleted unless its result is kept).

        With ``queue`` only that queue is asked. Otherwise every queue is, each driver's
        queues at once (one round trip's wait, not one per queue): ids are unique, so
        the first hit is the answer. None with :attr:`down` set means "not found on the
        drivers that answered".
        """
        specs = [self.registry.queue_spec(queue)] if queue else list(self.registry.queues.values())
        by_driver: dict[str, list[str]] = {}
        for q in specs:
            by_driver.setdefault(q.driver, []).append(q.name)
        for driver, names in by_driver.items():
            found = await self.ask(driver, _finder(names, job_id))
            if found is not None:
                return record_info(found, await self.held(found))
        return None

    async def held(self, rec: JobRecord) -> str | None:
        """Why a pending job waits, or None (not pending, not held, or cannot tell)."""
        spec = self.registry.queue_spec(rec.envelope.queue)
        if rec.state != "pending" or Capability.PAUSE not in (
                self.registry.drivers[spec.driver].capabilities):
            return None
        flow = spec.flow or Flow()
        hold = await self.ask(spec.driver, lambda d: _flow_store(d).held(spec.name, flow))
        return None if hold is None else hold.describe(flow)

    async def jobs(self, queue: str, state: str, limit: int = PAGE,
                   after: str | None = None) -> JobPage:
        """A page of ``queue``'s jobs in ``state`` (pending, delayed or failed), newest
        first, after the id ``after``; never an offset or a count over the history.

        Raises:
            ConfigError: an unknown state or a limit outside 1..MAX_PAGE.
            Unsupported: the queue's driver cannot list jobs (AMQP).
        """
        listed = _list_state(state)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise ConfigError(f"limit must be a whole number from 1 to {MAX_PAGE}, got {limit!r}")
        spec = self.registry.queue_spec(queue)
        self._require(spec.driver, Capability.LIST_JOBS, "listing jobs")
        # One more than asked: whether a next page exists, without counting.
        records = await self.ask(spec.driver,
                                 lambda d: d.list_jobs(queue, listed, limit + 1, after))
        if not records:
            return JobPage([], None)
        page = [record_info(r) for r in records[:limit]]
        return JobPage(page, page[-1].id if len(records) > limit else None)

    async def oldest_due_age(self, queue: str) -> float | None:
        """Seconds the oldest runnable job of ``queue`` has waited (0 when none is due),
        or None when its driver cannot tell (the autoscaling signal of DESIGN §11)."""
        spec = self.registry.queue_spec(queue)
        caps = self.registry.drivers[spec.driver].capabilities
        if Capability.LIST_JOBS not in caps:
            return None
        due = await self.ask(spec.driver, lambda d: _oldest(d, queue))
        if due is None:
            return None
        return 0.0 if due == _NONE_DUE else max(0.0, time.time() - due)

    async def oldest_due_ages(self) -> dict[str, float | None]:
        """:meth:`oldest_due_age` of every queue."""
        return {name: await self.oldest_due_age(name) for name in self.registry.queues}

    async def failed(self, queue: str, limit: int = 1000, offset: int = 0) -> list[JobInfo]:
        """Failed jobs, oldest failure first (``failed list``)."""
        driver = await self._open(queue)
        return [record_info(r) for r in await driver.list_failed(queue, limit, offset)]

    # ---- admin (raises when the driver cannot be reached) --------------------------

    async def retry_failed(self, queue: str, job_ids: Sequence[str] | None = None) -> int:
        """Failed jobs (all when ``job_ids`` is None) back to pending, attempts reset."""
        return await (await self._open(queue)).retry_failed(queue, job_ids)

    async def delete(self, queue: str, job_id: str) -> bool:
        """Delete a pending, delayed or failed job (and its unique lock)."""
        return await (await self._open(queue)).delete(queue, job_id)

    async def delete_failed(self, queue: str, job_id: str) -> bool:
        """Delete ``job_id`` only if it is a failed job of ``queue`` (``failed delete``)."""
        driver = await self._open(queue)
        rec = await driver.get(queue, job_id)
        if rec is None or rec.state != "failed":
            return False
        return await driver.delete(queue, job_id)

    async def purge_failed(self, queue: str, older_than: float | None = None) -> int:
        """Delete failed jobs that failed before epoch ``older_than`` (all when None)."""
        return await (await self._open(queue)).purge_failed(queue, older_than)

    async def purge(self, queue: str) -> int:
        """Delete every job of ``queue`` in every state."""
        return await (await self._open(queue)).purge(queue)

    async def set_paused(self, queue: str, paused: bool) -> bool:
        """Pause or resume ``queue``; whether it was paused before."""
        spec = self.registry.queue_spec(queue)
        self._require(spec.driver, Capability.PAUSE, "pausing queues")
        return await _flow_store(await self._open(queue)).set_paused(queue, paused)

    async def paused(self, queue: str) -> bool:
        spec = self.registry.queue_spec(queue)
        self._require(spec.driver, Capability.PAUSE, "pausing queues")
        return await _flow_store(await self._open(queue)).paused(queue)

    # ---- helpers --------------------------------------------------------------------

    async def _open(self, queue: str) -> Driver:
        return await self.registry.open_driver(self.registry.queue_spec(queue).driver)

    def _require(self, driver: str, capability: Capability, what: str) -> None:
        d = self.registry.drivers[driver]
        if capability not in d.capabilities:
            raise Unsupported(d.type_name, what)


#: oldest_due's "nothing due" (None from ``ask`` means "cannot tell").
_NONE_DUE = -1.0


async def _oldest(driver: Driver, queue: str) -> float:
    due = await driver.oldest_due(queue)
    return _NONE_DUE if due is None else due


def _flow_store(driver: Driver) -> FlowStore:
    """The driver's pause operations (its PAUSE capability was checked)."""
    if not isinstance(driver, FlowStore):
        raise Unsupported(driver.type_name, "pausing queues")
    return driver


def _finder(queues: Sequence[str], job_id: str
            ) -> Callable[[Driver], Awaitable[JobRecord | None]]:
    """Looks ``job_id`` up in all ``queues`` of one driver at once."""
    async def find(driver: Driver) -> JobRecord | None:
        async def get(queue: str) -> JobRecord | None:
            try:
                return await driver.get(queue, job_id)
            except Unsupported:
                return None

        found = await asyncio.gather(*(get(q) for q in queues))
        return next((r for r in found if r is not None), None)

    return find


def _list_state(state: str) -> ListState:
    for known in LIST_STATES:
        if state == known:
            return known
    raise ConfigError(f"state must be one of {', '.join(LIST_STATES)}, got {state!r}")
