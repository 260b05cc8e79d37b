"""The worker unit: serves every queue bound to one worker pool.

``Unit(registry, "critical").run()`` reserves only as many jobs as it has
free slots (never more than ``concurrency`` handlers in flight), visits its
queues round-robin, renews leases every ``lease/2``, settles outcomes in
batches, and on ``stop()`` waits up to ``stop_timeout`` before releasing what
is still running, with the attempt given back.

Beside the reserve loop run four side tasks (heartbeat, renew, housekeeping, settler),
supervised by :class:`~runa_runner.sidetasks.SideTasks`: if one dies of anything but a
driver outage, the unit stops at once (in-flight jobs released, attempt given back) and
``run()`` raises :class:`~runa_runner.errors.WorkerFailed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import observe
from . import registry as registry_module
from .drivers.base import CANCELLED, Capability, Driver, Outcome, Reserved, StatsDelta
from .drivers.flow import Flow, FlowStore
from .errors import ConfigError, DriverError, StopTimedOut, WorkerFailed
from .events import Counter, JobLog, Observers
from .execution import Running, execute
from .holds import Holds
from .limits import check_setting
from .outage import Outage, open_when_up
from .registry import Registry
from .settling import Settler, lease_lost_ends_failed
from .sidetasks import SideTasks
from .specs import QueueSpec

log = logging.getLogger("runa_runner.worker")

#: Name prefix of the threads running sync handlers (the CLI waits for them at exit).
HANDLER_THREADS = "runa-handler"
#: Seconds between instance heartbeats; an instance is dead after HEARTBEAT_TTL.
HEARTBEAT_EVERY = 5.0
HEARTBEAT_TTL = 15.0
#: Pause after a failed driver call before the next try (a stop ends it early).
TROUBLE_PAUSE = 1.0


class Unit:
    """Runs one worker pool of a frozen registry (the seed's ``queue.NewUnit``)."""

    def __init__(self, registry: Registry, worker: str, *,
                 concurrency: int | None = None) -> None:
        """``concurrency`` (1 to 10,000) overrides the pool's for this unit only."""
        if not registry.frozen:
            registry.freeze()
        self.registry = registry
        self.spec = registry.worker_spec(worker)
        if concurrency is not None:
            try:
                check_setting("concurrency", concurrency)
            except ValueError as exc:
                raise ConfigError(f"worker '{worker}': {exc}") from None
            self.spec = dataclasses.replace(self.spec, concurrency=concurrency)
        self.name = worker
        self.queues: tuple[QueueSpec, ...] = tuple(registry.queues_of(worker))
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        #: The unit's outcome counts (``counts``), itself an observer of its run events.
        self._counter = Counter()
        #: Everything this unit's runs do is told here: its counter, the --verbose lines,
        #: and the registry's observers (metrics, logs).
        self.events = Observers([self._counter, JobLog(), *registry.events])
        self._middleware = (*observe.run_middleware(worker), *registry.run_middleware,
                            *self.spec.middleware)
        self._inflight: dict[str, Running] = {}
        self._threads: set[asyncio.Future[Any]] = set()
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._done = asyncio.Event()
        self._stop_now = False
        self._started = False
        self._cursor = 0
        self._drivers: dict[str, Driver] = {}
        self._stats_driver: Driver | None = None
        self._settler: Settler | None = None
        self._outage = Outage(worker, self.events)
        self._side = SideTasks(worker, self.stop_now)
        self._pool: ThreadPoolExecutor | None = None
        #: The limits of each queue that has some (drivers/flow.py), and what holds them.
        self._flows = {q.name: q.flow for q in self.queues if q.flow is not None}
        self._holds = Holds(self.spec.poll_interval)
        #: Sync handler threads a burst stopped waiting for (past their timeout).
        self.abandoned = 0
        self._strays_since: float | None = None

    # ---- lifecycle ----------------------------------------------------------------

    async def run(self, burst: bool = False) -> None:
        """Serve the queues until ``stop()`` (or, with ``burst``, until nothing is runnable).

        A driver that cannot be reached yet is waited for (see :meth:`connect`).

        Raises:
            StopTimedOut: stop_timeout elapsed; unfinished jobs were released (or, in a
                burst, sync handler threads past their timeout were abandoned).
            WorkerFailed: a side task died unexpectedly; in-flight jobs were released.
        """
        running = registry_module.running(self.registry)
        try:
            await self._run(burst)
        finally:
            registry_module.reset_running(running)

    async def _run(self, burst: bool) -> None:
        if self._done.is_set():  # a new run after a finished one; a stop() before the
            self._stopping.clear()  # first run still applies (it returns at once)
        self._done.clear()
        self._started = True
        self.abandoned = 0
        self._strays_since = None
        timed_out = False
        try:
            if await self.connect():
                timed_out = await self._serve(burst)
        finally:
            self._done.set()
        if self._side.death is not None:
            name, exc = self._side.death
            raise WorkerFailed(f"worker '{self.name}': side task '{name}' died unexpectedly "
                               f"({type(exc).__name__}: {exc}); its running jobs were released")
        if self.abandoned:
            raise StopTimedOut(
                f"worker '{self.name}': stop_timeout ({self.spec.stop_timeout:g}s) elapsed "
                f"waiting for {self.abandoned} sync handler thread(s) still running past "
                "their timeout; they were abandoned (their runs were already settled)"
            )
        if timed_out:
            raise StopTimedOut(
                f"worker '{self.name}': stop_timeout ({self.spec.stop_timeout:g}s) elapsed; "
                "unfinished jobs were released back to their queues"
            )

    async def connect(self) -> bool:
        """Open the unit's drivers, waiting with backoff while one cannot be reached.

        One WARNING line when a driver is unavailable, one when it answers. Returns
        False if ``stop()`` came first (then nothing was started). ``run()`` calls it;
        calling it first lets a caller say "started" only once the drivers answer.
        """
        # Each time: a driver already open on this loop is returned at once, and one opened
        # on another loop (a unit run again under a new loop) is reopened here.
        names = dict.fromkeys((*(q.driver for q in self.queues),
                               self.registry.stats_driver_name(self.name)))
        opened: dict[str, Driver] = {}
        for name in names:
            driver = await open_when_up(self.registry, name, self._outage, self._stopping)
            if driver is None:
                return False
            opened[name] = driver
        self._drivers = {q.name: opened[q.driver] for q in self.queues}
        self._stats_driver = opened[self.registry.stats_driver_name(self.name)]
        return True

    async def _serve(self, burst: bool) -> bool:
        """Reserve and run until stopped (or idle, in a burst); True if jobs were released."""
        assert self._stats_driver is not None
        # Sync handlers run here: one thread per slot (the loop's default pool has
        # cpu + 4 threads, which would cap sync handlers below ``concurrency``).
        self._pool = ThreadPoolExecutor(max_workers=self.spec.concurrency,
                                        thread_name_prefix=HANDLER_THREADS)
        self._settler = Settler(self._stats_driver, self.name, self._counter, self.events,
                                self._outage)
        self._side = SideTasks(self.name, self.stop_now)
        self._side.start("heartbeat", self._heartbeat(self._stats_driver))
        self._side.start("renew", self._renew_loop())
        self._side.start("housekeeping", self._housekeeping())
        self._side.start("settler", self._settler.run())
        try:
            await self._clean_expired()
            await self._reserve_loop(burst)
            return await self._drain()
        except asyncio.CancelledError:
            # Cancelling run() is a stop at once: release in-flight jobs now (attempt given
            # back) rather than leave them reserved until their leases lapse and count.
            self._stop_now = True
            await self._drain()
            raise
        finally:
            await self._side.close()
            await self._close_settler()
            await self._leave(self._stats_driver)
            # Not waited for: a sync handler past its timeout may never return.
            self._pool.shutdown(wait=False)

    async def _close_settler(self) -> None:
        """Settle what is queued, write the last counts. After a side task died, what fails
        here is most likely that same fault, already reported: WorkerFailed is the verdict."""
        assert self._settler is not None
        try:
            await self._settler.close()
        except Exception:
            if self._side.death is None:
                raise
            log.debug("worker %s: closing the settler failed too", self.name, exc_info=True)

    async def stop(self) -> None:
        """Graceful stop: reserve nothing more, wait for in-flight jobs (bounded), return."""
        self._stopping.set()
        self._changed.set()
        if self._started:
            await self._done.wait()

    def stop_now(self) -> None:
        """Stop at once: in-flight jobs are released without waiting (second SIGINT)."""
        self._stop_now = True
        self._stopping.set()
        self._changed.set()

    # ---- reserving ----------------------------------------------------------------

    def _free(self) -> int:
        return self.spec.concurrency - len(self._inflight) - len(self._threads)

    async def _reserve_loop(self, burst: bool) -> None:
        while not self._stopping.is_set():
            # Cleared before looking, so a job finishing meanwhile still wakes the wait.
            self._changed.clear()
            free = self._free()
            if free <= 0:
                await self._wait_change(burst)
                continue
            got = await self._reserve_round(free)
            if got:
                # Let the runs just started take their first step before the next
                # reserve's round trip (an idle worker's push -> start latency).
                await asyncio.sleep(0)
                continue
            if burst:
                # A job settled during the round (``_changed``) may have been released
                # for a retry after that queue was visited: look again before leaving.
                # A limit holds jobs only for a while: a burst waits it out (a pause may
                # last forever: a paused queue counts as holding nothing runnable).
                waiting = self._holds.limited()
                if (not self._inflight and not self._threads and not self._changed.is_set()
                        and not waiting):
                    return
                await (self._idle() if waiting else self._wait_change(burst))
            else:
                await self._idle()

    async def _wait_change(self, burst: bool) -> None:
        """Wait for a run to end or a thread to return. A burst left with nothing but sync
        handler threads past their timeout waits for them at most stop_timeout, then stops
        (a thread cannot be killed, and may never return)."""
        if not (burst and self._threads and not self._inflight):
            self._strays_since = None
            await self._changed.wait()
            return
        if self._strays_since is None:
            self._strays_since = time.monotonic()
        left = self._strays_since + self.spec.stop_timeout - time.monotonic()
        try:
            await asyncio.wait_for(self._changed.wait(), max(left, 0.0))
        except TimeoutError:
            self.abandoned = len(self._threads)
            self._stopping.set()

    async def _reserve_round(self, free: int) -> int:
        """One pass over the queues in their declared order, round-robin: it starts after
        the last queue that gave a job, so an empty queue between two busy ones does not
        hand either of them an extra turn."""
        got = 0
        n = len(self.queues)
        start = self._cursor
        for i in range(n):
            if got >= free or self._stopping.is_set():
                break
            q = self.queues[(start + i) % n]
            driver = self._drivers[q.name]
            flow = self._flows.get(q.name)
            if flow is not None and self._holds.active(q.name):
                continue
            began = time.monotonic()
            try:
                if flow is None:  # the hot path: the driver checks only the pause flag
                    batch = await driver.reserve(q.name, free - got, self.spec.lease)
                else:
                    batch = await driver.reserve(q.name, free - got, self.spec.lease, flow)
            except DriverError as exc:
                await self._driver_trouble(driver, exc)
                continue
            self._outage.recovered(driver, began)
            for reserved in batch:
                self._start(q, reserved)
            if batch:
                self._cursor = (start + i + 1) % n
            if flow is not None and len(batch) < free - got:
                await self._look_for_hold(q.name, driver, flow)
            got += len(batch)
        return got

    # ---- flow control (drivers/flow.py) -------------------------------------------

    async def _look_for_hold(self, queue: str, driver: Driver, flow: Flow) -> None:
        """After a short batch from a queue with limits: ask why (see holds.py)."""
        if not isinstance(driver, FlowStore):  # a wrapper without it: poll as before
            return
        try:
            self._holds.note(queue, await driver.held(queue, flow))
        except DriverError as exc:
            await self._driver_trouble(driver, exc)

    async def _idle(self) -> None:
        """Wait for work: the drivers' wake-ups, a freed slot or stop, at most poll_interval
        (or until the first held queue may be looked at again). A queue a limit holds is
        not waited on: its due jobs would end every wait at once."""
        held = self._holds.left()
        timeout = min([self.spec.poll_interval, *held.values()])
        by_driver: dict[int, tuple[Driver, list[str]]] = {}
        for q in self.queues:
            if q.name not in held:
                d = self._drivers[q.name]
                by_driver.setdefault(id(d), (d, []))[1].append(q.name)
        waits: dict[asyncio.Future[Any], Driver | None] = {
            asyncio.ensure_future(d.wait(names, timeout)): d
            for d, names in by_driver.values()
        }
        waits[asyncio.ensure_future(self._stopping.wait())] = None
        if held:  # a run ending may free a max_running slot (Holds.freed)
            waits[asyncio.ensure_future(self._changed.wait())] = None
        try:
            done, _ = await asyncio.wait(
                waits, timeout=max(timeout, 0.001) * (2 if by_driver else 1),
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done:
                exc = None if task.cancelled() else task.exception()
                driver = waits[task]
                if isinstance(exc, DriverError) and driver is not None:
                    await self._driver_trouble(driver, exc)
        finally:
            for w in waits:
                w.cancel()

    async def _driver_trouble(self, driver: Driver, exc: DriverError) -> None:
        """One log line per outage, not per failed call; back off while it lasts."""
        self._outage.trouble(driver, exc)
        await self._pause(TROUBLE_PAUSE)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the unit is told to stop meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    # ---- running ------------------------------------------------------------------

    def _start(self, queue: QueueSpec, reserved: Reserved) -> None:
        r = Running(reserved=reserved, queue=queue, lease_until=reserved.lease_until)
        self._inflight[reserved.envelope.id] = r
        r.task = asyncio.create_task(self._run_one(r))

    async def _run_one(self, r: Running) -> None:
        env = r.reserved.envelope
        spec = self.registry.jobs.get(env.job)
        self.events.on_started(self.name, env)
        try:
            outcome: Outcome | None = await execute(spec, r, self._middleware, self._pool)
        except asyncio.CancelledError:
            outcome = self._cancelled_outcome(r)
            if outcome is None and r.reason is None:
                raise
        finally:
            self._track_thread(r)
        try:
            held = True
            if outcome is not None:
                assert self._settler is not None
                held = await self._settler.settle(self._drivers[r.queue.name], outcome, r)
            if r.reason == "lease" or not held:
                await self._count_lease_lost(r)
        finally:
            # Only our own entry: once our outcome is settled, the next attempt of the same
            # job may already be reserved and running under the same id.
            if self._inflight.get(env.id) is r:
                del self._inflight[env.id]
            self._holds.freed(r.queue.name)
            self._changed.set()

    def _cancelled_outcome(self, r: Running) -> Outcome | None:
        r.cancelled.set()
        env = r.reserved.envelope
        if r.reason == "stop":
            return Outcome(queue=env.queue, job_id=env.id, token=r.reserved.token,
                           kind="release", give_back_attempt=True)
        if r.reason == "cancel":  # registry.cancel: failed at once, never retried
            return Outcome(queue=env.queue, job_id=env.id, token=r.reserved.token,
                           kind="fail", error=CANCELLED)
        return None  # lease lost: another worker holds the job now

    def _track_thread(self, r: Running) -> None:
        """A sync handler still running after timeout/cancel keeps its slot until it returns."""
        thread = r.thread
        if thread is None or thread.done():
            return
        self._threads.add(thread)

        def gone(fut: asyncio.Future[Any]) -> None:
            self._threads.discard(fut)
            if not fut.cancelled():
                fut.exception()  # consumed: the run was already settled
            self._changed.set()

        thread.add_done_callback(gone)

    @property
    def counts(self) -> StatsDelta:
        """Outcomes this unit settled (succeeded, failed, retried; a stop's release and a
        lost lease count nothing, but a lost last attempt counts failed)."""
        return self._counter.total

    async def _count_lease_lost(self, r: Running) -> None:
        """A run that lost its lease on its last attempt ends in failed ("lease lost"), settled
        by the driver rather than by us: count it failed here, so the pool's counters add
        up, unless the driver shows the job went another way (deleted or purged meanwhile)."""
        if not await lease_lost_ends_failed(self._drivers[r.queue.name], r):
            return
        assert self._settler is not None
        self._settler.count(StatsDelta(failed=1))

    # ---- leases -------------------------------------------------------------------

    async def _renew_loop(self) -> None:
        """Renew each lease when half of it is spent; cancel runs whose lease was lost."""
        lease = self.spec.lease
        tick = max(min(lease / 4, 1.0), 0.01)
        while True:
            await asyncio.sleep(tick)
            now = time.time()
            lost = [r for r in list(self._inflight.values())
                    if r.reason is None and r.lease_until - now <= lease / 2
                    and not await self._renew(r, lease)]
            for r in [r for r in self._inflight.values() if r.reason == "cancel"
                      and not r.cancelled.is_set()]:
                self._cancel_run(r)
            if lost:
                # After an outage many leases are found lapsed at once: one line, not one each.
                env = lost[0].reserved.envelope
                log.warning("%d run(s) lost their lease (first: job %s %s): cancelling them",
                            len(lost), env.job, env.id, extra={
                                "event": "lease.lost", "worker": self.name, "queue": env.queue,
                                "job": env.job, "id": env.id, "attempt": env.attempt})
            for r in lost:
                self.events.on_lease_lost(self.name, r.reserved.envelope)
                r.reason = "lease"
                r.cancelled.set()
                assert r.task is not None
                r.task.cancel()

    async def _renew(self, r: Running, lease: float) -> bool:
        """Renew one lease; False only when it was lost while the run goes on."""
        driver = self._drivers[r.queue.name]
        if Capability.RENEW not in driver.capabilities:
            return True
        env = r.reserved.envelope
        began = time.monotonic()
        try:
            held = await driver.renew(env.queue, env.id, r.reserved.token, lease)
        except DriverError as exc:
            await self._driver_trouble(driver, exc)
            return True
        self._outage.recovered(driver, began)
        if held == CANCELLED:
            r.reason = "cancel"  # cancelled by the loop, with the lease still ours
        if held:
            r.lease_until = time.time() + lease
            return True
        return r.task is None or r.task.done()

    def _cancel_run(self, r: Running) -> None:
        """Stop a run whose job was cancelled (``registry.cancel``): it settles failed."""
        env = r.reserved.envelope
        log.info("job %s %s cancelled: stopping its run", env.job, env.id, extra={
            "event": "job.cancelled", "worker": self.name, "queue": env.queue,
            "job": env.job, "id": env.id, "attempt": env.attempt})
        r.cancelled.set()
        if r.task is not None:
            r.task.cancel()

    # ---- stopping -----------------------------------------------------------------

    async def _drain(self) -> bool:
        """Wait up to stop_timeout for in-flight jobs; release the rest. True if any were."""
        if not self._inflight:
            return False
        if not self._stop_now:
            deadline = time.monotonic() + self.spec.stop_timeout
            while self._inflight and time.monotonic() < deadline and not self._stop_now:
                self._changed.clear()
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
        left = list(self._inflight.values())
        for r in left:
            if r.reason != "cancel":  # a cancelled run still settles failed, not released
                r.reason = "stop"
            if r.task is not None:
                r.task.cancel()
        await asyncio.gather(*(r.task for r in left if r.task is not None),
                             return_exceptions=True)
        return bool(left)

    # ---- background ---------------------------------------------------------------

    async def _heartbeat(self, driver: Driver) -> None:
        if Capability.INSTANCES not in driver.capabilities:
            return
        while True:
            began = time.monotonic()
            try:
                await driver.heartbeat(self.name, self.instance, HEARTBEAT_TTL)
            except DriverError as exc:
                await self._driver_trouble(driver, exc)
            else:
                self._outage.recovered(driver, began)
            await asyncio.sleep(HEARTBEAT_EVERY)

    async def _leave(self, driver: Driver) -> None:
        if Capability.INSTANCES not in driver.capabilities:
            return
        try:
            await driver.leave(self.name, self.instance)
        except DriverError as exc:
            log.warning("worker %s: could not deregister instance: %s", self.name, exc)

    def _retention_queues(self) -> Sequence[QueueSpec]:
        return [q for q in self.queues if q.retention > 0
                and Capability.FAILED_STORE in self._drivers[q.name].capabilities]

    async def _clean_expired(self) -> None:
        """Delete failed jobs older than each queue's retention (retention 0 keeps them)."""
        now = time.time()
        for q in self._retention_queues():
            driver = self._drivers[q.name]
            began = time.monotonic()
            try:
                await driver.purge_failed(q.name, now - q.retention)
            except DriverError as exc:
                await self._driver_trouble(driver, exc)
            else:
                self._outage.recovered(driver, began)

    async def _housekeeping(self) -> None:
        queues = self._retention_queues()
        if not queues:
            return
        every = max(0.05, min(60.0, min(q.retention for q in queues) / 2))
        while True:
            await asyncio.sleep(every)
            await self._clean_expired()
