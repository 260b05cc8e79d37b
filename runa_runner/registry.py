"""The registry: drivers, queues, workers and jobs, filled by a builder and then frozen.

``rr.load("jobs.yaml")`` and the standalone builder (``rr.Registry()`` then
``.driver() .queue() .worker() .job() .freeze()``) produce the same object.
After ``freeze()`` every change raises :class:`RegistryFrozen`; the frozen
registry is what pushes jobs and what a worker unit runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any, TypeVar

from . import specs
from .connections import Connections
from .drivers.base import Capability, Driver, UniqueUntil
from .drivers.flow import Rate, RateError, parse_rate
from .errors import ConfigError, RegistryFrozen, UnknownName
from .events import Observers
from .handlers import is_async_handler, payload_adapter, payload_type
from .inspection import Inspector
from .limits import check_setting
from .pushing import Pusher, PushOptions
from .schedules.info import ScheduleInfo
from .schedules.spec import DEFAULT_GRACE, ScheduleSpec
from .specs import JobInfo, JobSpec, QueueInfo, QueueSpec, WorkerInfo, WorkerSpec
from .suggest import did_you_mean, lookup

F = TypeVar("F", bound=Callable[..., Any])

#: The registry a worker unit runs, per task: handlers and the tasks they start see it.
_running: ContextVar[Registry | None] = ContextVar("runa_running_registry", default=None)
#: The last registry frozen in this process (the fallback outside a worker).
_last_frozen: Registry | None = None


def default() -> Registry:
    """The running registry (inside a worker), else the last one frozen in this process."""
    found = _running.get() or _last_frozen
    if found is None:
        raise UnknownName("no registry: call rr.load(...) or freeze a Registry first")
    return found


def running(registry: Registry) -> Token[Registry | None]:
    """Make ``registry`` the default of this task and the tasks it starts (a unit's run);
    ``reset_running(token)`` undoes it."""
    return _running.set(registry)


def reset_running(token: Token[Registry | None]) -> None:
    _running.reset(token)


def check_settings(owner: str, settings: Mapping[str, Any]) -> None:
    """Every set (not None) number in its documented range (limits.py), else one
    ConfigError line naming the owner and the setting."""
    for key, value in settings.items():
        if value is not None:
            try:
                check_setting(key, value)
            except ValueError as exc:
                raise ConfigError(f"{owner}: {exc}") from None


def check_name(kind: str, name: object, taken: Mapping[str, Any]) -> None:
    """A name is a non-empty string, declared once."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{kind} name must be a non-empty string, got {name!r}")
    if name in taken:
        raise ConfigError(f"{kind} '{name}' is already declared")


class Registry:
    """Holds what runs: drivers by name, queue/worker/job specs, middleware."""

    def __init__(self) -> None:
        from .drivers.memory import MemoryDriver

        self._frozen = False
        self._drivers: dict[str, Driver] = {specs.MEMORY_DRIVER: MemoryDriver()}
        self._queues: dict[str, QueueSpec] = {}
        self._workers: dict[str, WorkerSpec] = {}
        self._jobs: dict[str, JobSpec] = {}
        self._schedules: dict[str, ScheduleSpec] = {}
        # Jobs registered without ``queue=``: like the seed's ``Job[T]``, they may be pushed to
        # any queue, so a missing ``default`` queue is only an error when a push relies on it.
        self._unbound: set[str] = set()
        self._push_middleware: list[specs.PushMiddleware] = []
        self._run_middleware: list[specs.RunMiddleware] = []
        self._connections = Connections(self._drivers)
        #: Run events of this registry's pushes and units (metrics and logs add observers).
        self.events = Observers()
        #: Built at freeze, from the frozen specs (see pushing.py).
        self._pusher: Pusher | None = None

    # ---- building ---------------------------------------------------------------

    def _check_mutable(self, what: str) -> None:
        if self._frozen:
            raise RegistryFrozen(f"registry is frozen: cannot {what}")

    def driver(self, name: str, driver: Driver) -> Registry:
        """Register a driver instance under ``name``."""
        self._check_mutable(f"add driver '{name}'")
        check_name("driver", name, {k: v for k, v in self._drivers.items()
                                    if k != specs.MEMORY_DRIVER})  # memory may be replaced
        self._drivers[name] = driver
        return self

    def queue(
        self,
        name: str,
        *,
        driver: str | None = None,
        workers: Sequence[str] | None = None,
        retry: int = specs.DEFAULT_RETRY,
        retry_delay: float = specs.DEFAULT_RETRY_DELAY,
        retry_backoff: specs.Backoff = "fixed",
        retry_max_delay: float | None = None,
        timeout: float | None = None,
        retention: float = specs.DEFAULT_RETENTION,
        max_payload_bytes: int | None = None,
        meta: Mapping[str, Any] | None = None,
        middleware: Sequence[specs.PushMiddleware] = (),
        result_ttl: float = 0.0,
        max_running: int | None = None,
        rate: str | Rate | None = None,
    ) -> Registry:
        """Declare a queue (seed defaults: workers ``[default]``, retry 0, retry_delay 1s).

        ``result_ttl`` keeps a succeeded job and its handler's return value that long
        (default 0: deleted at once); jobs and pushes may override it.
        ``max_running`` caps its jobs in flight across every worker process; ``rate``
        (``"10/1s"``, ``"600/1m"``, ``"5000/1h"``) caps its starts in any such window.
        """
        self._check_mutable(f"add queue '{name}'")
        check_name("queue", name, self._queues)
        check_settings(f"queue '{name}'", {
            "retry": retry, "retry_delay": retry_delay, "retry_max_delay": retry_max_delay,
            "timeout": timeout, "retention": retention, "max_payload_bytes": max_payload_bytes,
            "result_ttl": result_ttl, "max_running": max_running})
        try:
            parsed_rate = None if rate is None else parse_rate(rate)
        except RateError as exc:
            raise ConfigError(f"queue '{name}': rate: {exc}") from None
        self._queues[name] = QueueSpec(
            name=name,
            driver=driver or specs.MEMORY_DRIVER,
            workers=tuple(workers) if workers is not None else (specs.DEFAULT_WORKER,),
            retry=retry,
            retry_delay=retry_delay,
            retry_backoff=retry_backoff,
            retry_max_delay=retry_max_delay,
            timeout=timeout,
            retention=retention,
            max_payload_bytes=max_payload_bytes,
            meta=specs.frozen_map(meta),
            middleware=tuple(middleware),
            result_ttl=float(result_ttl),
            max_running=max_running,
            rate=parsed_rate,
        )
        return self

    def worker(
        self,
        name: str,
        *,
        concurrency: int = specs.DEFAULT_CONCURRENCY,
        poll_interval: float = specs.DEFAULT_POLL_INTERVAL,
        lease: float = specs.DEFAULT_LEASE,
        stop_timeout: float = specs.DEFAULT_STOP_TIMEOUT,
        meta: Mapping[str, Any] | None = None,
        middleware: Sequence[specs.RunMiddleware] = (),
    ) -> Registry:
        """Declare a worker pool (seed defaults: concurrency 1, lease 30s, stop_timeout 30s)."""
        self._check_mutable(f"add worker '{name}'")
        check_name("worker", name, self._workers)
        check_settings(f"worker '{name}'", {
            "concurrency": concurrency, "poll_interval": poll_interval, "lease": lease,
            "stop_timeout": stop_timeout})
        self._workers[name] = WorkerSpec(
            name=name,
            concurrency=concurrency,
            poll_interval=poll_interval,
            lease=lease,
            stop_timeout=stop_timeout,
            meta=specs.frozen_map(meta),
            middleware=tuple(middleware),
        )
        return self

    def job(
        self,
        name: str,
        handler: Callable[..., Any] | None = None,
        *,
        queue: str | None = None,
        retry: int | None = None,
        retry_delay: float | None = None,
        timeout: float | None = None,
        unique_until: UniqueUntil = "done",
        unique_for: float | None = None,
        meta: Mapping[str, Any] | None = None,
        handler_path: str | None = None,
        result_ttl: float | None = None,
    ) -> Any:
        """Register a job type; also usable as a decorator: ``@r.job("mail.send")``."""
        if handler is None:

            def decorate(fn: F) -> F:
                self.job(
                    name, fn, queue=queue, retry=retry, retry_delay=retry_delay,
                    timeout=timeout, unique_until=unique_until, unique_for=unique_for,
                    meta=meta, handler_path=handler_path, result_ttl=result_ttl,
                )
                return fn

            return decorate
        self._check_mutable(f"add job '{name}'")
        check_name("job", name, self._jobs)
        check_settings(f"job '{name}'", {"retry": retry, "retry_delay": retry_delay,
                                         "timeout": timeout, "unique_for": unique_for,
                                         "result_ttl": result_ttl})
        if not callable(handler):
            raise ConfigError(f"job '{name}': handler {handler!r} is not callable")
        ptype = payload_type(handler)
        self._jobs[name] = JobSpec(
            name=name,
            handler=handler,
            is_async=is_async_handler(handler),
            payload_type=ptype,
            adapter=payload_adapter(handler, ptype),
            queue=queue or specs.DEFAULT_QUEUE,
            retry=retry,
            retry_delay=retry_delay,
            timeout=timeout,
            unique_until=unique_until,
            unique_for=unique_for,
            meta=specs.frozen_map(meta),
            handler_path=handler_path,
            result_ttl=result_ttl,
        )
        if queue is None:
            self._unbound.add(name)
        else:
            self._unbound.discard(name)
        return self

    def schedule(
        self,
        name: str,
        job: str,
        *,
        cron: str | None = None,
        every: float | None = None,
        timezone: str = "UTC",
        payload: Any = None,
        queue: str | None = None,
        catch_up: str = "latest",
        grace: float = DEFAULT_GRACE,
        overlap: str = "allow",
        meta: Mapping[str, Any] | None = None,
    ) -> Registry:
        """Push ``job`` at every slot of ``cron`` (5 fields, in ``timezone``) or ``every``
        seconds, exactly once per slot however many schedulers run (DESIGN §10).

        Raises:
            ConfigError: bad cron, time zone, period, catch_up, overlap or grace; an
                unknown job/queue or a refused payload is reported by ``freeze()``.
        """
        self._check_mutable(f"add schedule '{name}'")
        try:
            self._schedules[name] = ScheduleSpec.build(
                name, job, queue or "", cron=cron, every=every, timezone=timezone,
                payload=payload, catch_up=catch_up, grace=grace, overlap=overlap, meta=meta)
        except ValueError as exc:
            raise ConfigError(f"schedule '{name}': {exc}") from None
        return self

    def use_push(self, middleware: specs.PushMiddleware) -> Registry:
        """Add a push middleware for every queue (outermost first)."""
        self._check_mutable("add middleware")
        self._push_middleware.append(middleware)
        return self

    def use_run(self, middleware: specs.RunMiddleware) -> Registry:
        """Add a run middleware for every worker (outermost first)."""
        self._check_mutable("add middleware")
        self._run_middleware.append(middleware)
        return self

    def freeze(self) -> Registry:
        """Check references and freeze; afterwards every change raises RegistryFrozen."""
        if self._frozen:
            return self
        if not self._queues:
            self._queues[specs.DEFAULT_QUEUE] = QueueSpec(name=specs.DEFAULT_QUEUE)
        if not self._workers:
            self._workers[specs.DEFAULT_WORKER] = WorkerSpec(name=specs.DEFAULT_WORKER)
        self._resolve_schedule_queues()
        problems = list(self._reference_problems())
        if problems:
            raise ConfigError("; ".join(problems))
        self._frozen = True
        self._pusher = Pusher(self.queues, self.jobs, self.drivers, self.open_driver,
                              self._push_middleware, self.events)
        global _last_frozen
        _last_frozen = self
        return self

    def _resolve_schedule_queues(self) -> None:
        """A schedule without ``queue`` fires into its job's queue."""
        for name, s in self._schedules.items():
            if not s.queue and s.job in self._jobs:
                self._schedules[name] = dataclasses.replace(s, queue=self._jobs[s.job].queue)

    def _reference_problems(self) -> Iterable[str]:
        from .schedules.checks import schedule_problems

        yield from schedule_problems(self._schedules, self._jobs, self._queues, self._drivers)
        for q in self._queues.values():
            if q.driver not in self._drivers:
                yield (f"queue '{q.name}': unknown driver '{q.driver}'"
                       + did_you_mean(q.driver, self._drivers))
            for w in q.workers:
                if w not in self._workers:
                    yield (f"queue '{q.name}': unknown worker '{w}'"
                           + did_you_mean(w, self._workers))
            if not q.workers:
                yield f"queue '{q.name}': no worker serves it"
            driver = self._drivers.get(q.driver)
            if q.flow and driver is not None and (
                    Capability.FLOW_CONTROL not in driver.capabilities):
                yield (f"queue '{q.name}': driver '{q.driver}' (type {driver.type_name}) "
                       f"cannot keep max_running or rate (it lacks the "
                       f"'{Capability.FLOW_CONTROL.value}' capability)")
        yield from self._result_problems()
        for j in self._jobs.values():
            if j.queue not in self._queues and j.name not in self._unbound:
                yield (f"job '{j.name}': unknown queue '{j.queue}'"
                       + did_you_mean(j.queue, self._queues))

    def _result_problems(self) -> Iterable[str]:
        """A result_ttl on a queue (or a job of it) whose driver cannot keep results."""
        from .drivers.base import Capability

        for q in self._queues.values():
            driver = self._drivers.get(q.driver)
            if driver is None or Capability.RESULTS in driver.capabilities:
                continue
            owners = [f"queue '{q.name}'"] if q.result_ttl else []
            owners += [f"job '{j.name}'" for j in self._jobs.values()
                       if j.queue == q.name and j.result_ttl]
            for owner in owners:
                yield (f"{owner}: result_ttl needs a driver that keeps results; driver "
                       f"'{q.driver}' (type {driver.type_name}) cannot")

    # ---- reading ----------------------------------------------------------------

    @property
    def frozen(self) -> bool:
        return self._frozen

    @property
    def queues(self) -> Mapping[str, QueueSpec]:
        return MappingProxyType(self._queues)

    @property
    def workers(self) -> Mapping[str, WorkerSpec]:
        return MappingProxyType(self._workers)

    @property
    def jobs(self) -> Mapping[str, JobSpec]:
        return MappingProxyType(self._jobs)

    @property
    def drivers(self) -> Mapping[str, Driver]:
        return MappingProxyType(self._drivers)

    @property
    def push_middleware(self) -> tuple[specs.PushMiddleware, ...]:
        return tuple(self._push_middleware)

    @property
    def run_middleware(self) -> tuple[specs.RunMiddleware, ...]:
        return tuple(self._run_middleware)

    @property
    def schedules(self) -> Mapping[str, ScheduleSpec]:
        return MappingProxyType(self._schedules)

    def schedule_spec(self, name: str) -> ScheduleSpec:
        try:
            return self._schedules[name]
        except KeyError:
            raise UnknownName(f"unknown schedule '{name}'"
                              + did_you_mean(name, self._schedules)) from None

    def queue_spec(self, name: str) -> QueueSpec:
        return lookup(self._queues, name, "queue")

    def worker_spec(self, name: str) -> WorkerSpec:
        return lookup(self._workers, name, "worker")

    def job_spec(self, name: str) -> JobSpec:
        return lookup(self._jobs, name, "job")

    def queues_of(self, worker: str) -> list[QueueSpec]:
        """Queues served by ``worker``, in declaration order."""
        return [q for q in self._queues.values() if worker in q.workers]

    def stats_driver_name(self, worker: str) -> str:
        """Where a worker pool's counters live: the driver of its first queue."""
        queues = self.queues_of(worker)
        return queues[0].driver if queues else specs.MEMORY_DRIVER

    # ---- drivers ----------------------------------------------------------------

    def _freeze_on_use(self) -> None:
        """Using a registry freezes it, as ``Unit`` does: a push or a look at the queues
        sees the same queues and workers (the seed's defaults included) as every later
        call, and the registry cannot change under them."""
        if not self._frozen:
            self.freeze()

    async def open_driver(self, name: str) -> Driver:
        """The driver ``name``, opened on first use on this event loop."""
        self._freeze_on_use()
        return await self._connections.open(name)

    async def queue_driver(self, queue: str) -> Driver:
        return await self.open_driver(self.queue_spec(queue).driver)

    async def close(self) -> None:
        """Close every opened driver (pending pushes are already stored)."""
        await self._connections.close()

    # ---- pushing (delegated to the Pusher built at freeze) -----------------------

    async def push(
        self,
        job: str,
        payload: Any = None,
        *,
        queue: str | None = None,
        delay: float | None = None,
        unique: str | None = None,
        unique_until: UniqueUntil | None = None,
        unique_for: float | None = None,
        retry: int | None = None,
        retry_delay: float | None = None,
        timeout: float | None = None,
        meta: Mapping[str, Any] | None = None,
        connection: Any = None,
        result_ttl: float | None = None,
    ) -> str:
        """Validate ``payload`` and enqueue one job; return its id.

        Options left as None inherit (push > job > queue), so ``retry=0``
        really disables retries. A duplicate ``unique`` key returns the
        existing job's id. ``result_ttl`` keeps the succeeded job and its result
        that long (see :meth:`result`). ``connection`` (a psycopg connection, on a postgres
        driver) writes the job inside that connection's transaction: the job
        exists if and only if the transaction commits.

        Raises:
            PayloadInvalid: with one ``JOB: FIELD: message`` line per field; nothing enqueued.
        """
        opts = PushOptions(
            queue=queue, delay=delay, unique=unique, unique_until=unique_until,
            unique_for=unique_for, retry=retry, retry_delay=retry_delay,
            timeout=timeout, meta=meta, result_ttl=result_ttl,
        )
        return (await self.pusher.push_many(job, [payload], opts, connection))[0]

    async def push_many(
        self, job: str, payloads: Iterable[Any], **options: Any
    ) -> list[str]:
        """Validate every payload first, then enqueue them in batches; return the ids."""
        return await self.pusher.push_many(job, list(payloads), PushOptions(**options))

    def push_sync(self, job: str, payload: Any = None, **options: Any) -> str:
        """``push`` for sync callers, from any thread that is not running an event loop.

        On a thread that runs a loop it raises ConfigError: ``await push(...)`` there.
        ``connection=`` takes a sync psycopg connection (see ``push``).
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread: a driver may push right here
            connection = options.pop("connection", None)
            ids = self.pusher.push_blocking(job, [payload], PushOptions(**options), connection)
            if ids is not None:
                return ids[0]
            if connection is not None:
                options["connection"] = connection
        job_id: str = self.run_sync(self.push(job, payload, **options))
        return job_id

    @property
    def pusher(self) -> Pusher:
        """What pushes this registry's jobs (using it freezes the registry)."""
        if self._pusher is None:
            self.freeze()
        assert self._pusher is not None
        return self._pusher

    def run_sync(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine of this registry from sync code (see ``push_sync``)."""
        return self._connections.run_sync(coro)

    # ---- information and administration (implemented in inspection.py) ------------

    def inspector(self, *, outside: bool = False) -> Inspector:
        """The read and admin API over this registry's drivers (see inspection.py); a look
        freezes the registry, as a push does."""
        self._freeze_on_use()
        return Inspector(self, outside=outside)

    async def queue_info(self) -> list[QueueInfo]:
        """Counts per queue (None where the driver cannot count or did not answer)."""
        return await self.inspector().queues()

    async def worker_info(self) -> list[WorkerInfo]:
        """Counters per worker pool, summed over its processes, and live instances."""
        return await self.inspector().workers()

    async def job_info(self, job_id: str) -> JobInfo | None:
        """The stored job, or None (a succeeded job is deleted, so it is unknown)."""
        return await self.inspector().job(job_id)

    async def schedule_info(self) -> list[ScheduleInfo]:
        """One row per schedule: its next slot and its last fire (DESIGN §10)."""
        from .schedules.info import schedule_info

        self._freeze_on_use()
        return await schedule_info(self._schedules, self._queues, self._drivers,
                                   self.open_driver)

    async def failed(self, queue: str, limit: int = 1000, offset: int = 0) -> list[JobInfo]:
        return await self.inspector().failed(queue, limit, offset)

    async def retry_failed(self, queue: str, job_ids: Sequence[str] | None = None) -> int:
        return await self.inspector().retry_failed(queue, job_ids)

    async def purge_failed(self, queue: str, older_than: float | None = None) -> int:
        return await self.inspector().purge_failed(queue, older_than)

    async def delete(self, queue: str, job_id: str) -> bool:
        return await self.inspector().delete(queue, job_id)

    async def purge(self, queue: str) -> int:
        return await self.inspector().purge(queue)

    # ---- results and cancel (implemented in outcomes.py) ---------------------------

    async def result(self, job_id: str, timeout: float | None = None) -> Any:
        """Wait for job ``job_id`` to succeed and return its handler's return value.

        The job needs a ``result_ttl`` > 0 (queue, job or push) for the value to be kept.
        Waits by a wake-up where the driver has one (see README "Results and cancel").

        Raises:
            JobFailed: the job failed for good or was cancelled (``.error`` says why).
            TimeoutError: ``timeout`` seconds passed first (None waits without limit).
            JobNotFound: no such job, or it succeeded and was not kept (a KeyError).
        """
        from .outcomes import wait_result

        return await wait_result(self.inspector(), job_id, timeout)

    def result_sync(self, job_id: str, timeout: float | None = None) -> Any:
        """``result`` for sync callers (any thread not running an event loop)."""
        return self.run_sync(self.result(job_id, timeout))

    async def cancel(self, job_id: str) -> str:
        """Cancel a job: a pending or delayed one is deleted (its unique lock released) and
        ``"deleted"`` returned; a reserved one's run is asked to stop at its next lease
        renewal, settling as failed with the error "cancelled" (no retry): ``"requested"``.

        Raises:
            JobNotFound: no such job, or it succeeded and was not kept.
            NotCancellable: the job already failed, or succeeded and was kept.
            Unsupported: the job's queue's driver cannot cancel (amqp).
        """
        from .outcomes import cancel

        return await cancel(self.inspector(), job_id)

    # ---- pause and flow control (drivers/flow.py) ------------------------------------

    async def pause(self, queue: str) -> bool:
        """Pause ``queue`` for every worker process: it takes pushes and keeps its jobs,
        and no worker reserves from it until :meth:`resume`. Returns whether it was
        paused already (pausing twice is harmless).

        Raises:
            UnknownName: no such queue. Unsupported: its driver cannot pause (AMQP).
        """
        return await self.inspector().set_paused(queue, True)

    async def resume(self, queue: str) -> bool:
        """Let workers reserve from ``queue`` again (idle ones are woken as by a push).
        Returns whether it was paused."""
        return await self.inspector().set_paused(queue, False)

    async def paused(self, queue: str) -> bool:
        """Whether ``queue`` is paused now."""
        return await self.inspector().paused(queue)
