"""The in-process driver: complete semantics, no durability.

For tests and single-process use. Another process cannot see it, so pushing
to it from the CLI is refused by the CLI with a clear message.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..job import Envelope
from ..results import decode_result
from .base import (
    ALL_CAPABILITIES,
    CANCELLED,
    LEASE_LOST,
    CancelOutcome,
    Capability,
    DriverInfo,
    DriverType,
    FireResult,
    JobRecord,
    JobState,
    ListState,
    Outcome,
    PushItem,
    QueueCounts,
    Reserved,
    SlotClaim,
    SlotState,
    StatsDelta,
    WorkerCounts,
    id_time,
    unique_lock_key,
    wait_any,
)
from .bounds import check_items
from .flow import Flow, Hold, allowance, hold_of


@dataclass(slots=True)
class _Entry:
    env: Envelope
    state: JobState
    unique_lock: str | None = None
    unique_until: str = "done"
    token: str | None = None
    lease_until: float = 0.0
    error: str | None = None
    traceback: str | None = None
    failed_at: float | None = None
    #: the token of the run a cancel asked to stop (renew tells that run)
    cancel: str | None = None


@dataclass(slots=True)
class _Kept:
    """A succeeded job kept with its result until ``expires``."""

    env: Envelope
    result: str
    finished_at: float
    expires: float


@dataclass(slots=True)
class _Queue:
    jobs: dict[str, _Entry] = field(default_factory=dict)
    #: (available_at, id) for pending/delayed jobs; stale rows are skipped lazily.
    ready: list[tuple[float, str]] = field(default_factory=list)
    #: (lease_until, id) for reserved jobs; stale rows are skipped lazily.
    leases: list[tuple[float, str]] = field(default_factory=list)
    failed: dict[str, _Entry] = field(default_factory=dict)
    kept: dict[str, _Kept] = field(default_factory=dict)


#: Expired results removed per kept result (bounded cleanup; reads skip expired ones).
_SWEEP = 100


class MemoryDriver:
    """Jobs in a dict per queue, heaps for due times and leases."""

    type_name = "memory"
    CAPABILITIES = ALL_CAPABILITIES - {Capability.CROSS_PROCESS}
    capabilities = CAPABILITIES

    def __init__(self) -> None:
        self._queues: dict[str, _Queue] = {}
        self._locks: dict[str, tuple[str, float | None]] = {}  # key -> (job id, expires)
        self._stats: dict[str, list[int]] = {}
        self._instances: dict[str, dict[str, float]] = {}
        self._events: dict[tuple[int, str], asyncio.Event] = {}
        self._slots: dict[tuple[str, str], SlotState] = {}  # (queue, schedule) -> state
        #: (loop id, job id) -> set when that job settles (``wait_result``)
        self._settled: dict[tuple[int, str], asyncio.Event] = {}
        self._paused: set[str] = set()
        #: queue -> times of its recent starts, oldest first (a rate's sliding window)
        self._starts: dict[str, deque[float]] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any], base_dir: Path) -> MemoryDriver:
        return cls()

    def describe(self) -> DriverInfo:
        return DriverInfo(type="memory", target=f"process {os.getpid()}")

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _q(self, name: str) -> _Queue:
        q = self._queues.get(name)
        if q is None:
            q = self._queues[name] = _Queue()
        return q

    # ---- push -----------------------------------------------------------------

    async def push(self, items: Sequence[PushItem]) -> list[str]:
        check_items("memory", items)  # NaN or 1e400 would corrupt the heaps' order
        now = time.time()
        ids = []
        for item in items:
            ids.append(self._push_one(item, now))
        return ids

    def _push_one(self, item: PushItem, now: float) -> str:
        env = item.envelope
        lock = None
        if env.unique is not None:
            lock = unique_lock_key(env.queue, env.job, env.unique)
            held = self._locks.get(lock)
            if held is not None and (held[1] is None or held[1] > now):
                return held[0]
            expires = None if item.unique_for is None else now + item.unique_for
            self._locks[lock] = (env.id, expires)
        env = env.evolve(enqueued_at=now, available_at=now + item.delay)
        q = self._q(env.queue)
        state: JobState = "delayed" if item.delay > 0 else "pending"
        q.jobs[env.id] = _Entry(env, state, lock, item.unique_until)
        heapq.heappush(q.ready, (env.available_at, env.id))
        self._wake(env.queue)
        return env.id

    def _drop_lock(self, entry: _Entry) -> None:
        if entry.unique_lock is not None:
            held = self._locks.get(entry.unique_lock)
            if held is not None and held[0] == entry.env.id:
                del self._locks[entry.unique_lock]
            entry.unique_lock = None

    # ---- reserve and settle -----------------------------------------------------

    def _recover_leases(self, q: _Queue, now: float) -> None:
        while q.leases and q.leases[0][0] <= now:
            lease_until, job_id = heapq.heappop(q.leases)
            entry = q.jobs.get(job_id)
            if entry is None or entry.state != "reserved" or entry.lease_until != lease_until:
                continue
            entry.token = None
            if entry.env.attempt >= entry.env.max_attempts:
                self._to_failed(q, entry, LEASE_LOST, None, now)
            else:
                entry.state = "pending"
                entry.env = entry.env.evolve(available_at=now)
                heapq.heappush(q.ready, (now, job_id))

    async def reserve(self, queue: str, count: int, lease: float,
                      flow: Flow | None = None) -> list[Reserved]:
        now = time.time()
        q = self._q(queue)
        self._recover_leases(q, now)
        if queue in self._paused:
            return []
        if flow:
            count = allowance(count, flow, self._running(q), self._started(queue, flow, now))
        out: list[Reserved] = []
        while q.ready and len(out) < count and q.ready[0][0] <= now:
            available_at, job_id = heapq.heappop(q.ready)
            entry = q.jobs.get(job_id)
            if entry is None or entry.state not in ("pending", "delayed"):
                continue
            if entry.env.available_at != available_at:
                continue
            entry.state = "reserved"
            entry.token = os.urandom(8).hex()
            entry.lease_until = now + lease
            entry.env = entry.env.evolve(attempt=entry.env.attempt + 1)
            if entry.unique_until == "start":
                self._drop_lock(entry)
            heapq.heappush(q.leases, (entry.lease_until, job_id))
            out.append(Reserved(entry.env, entry.token, entry.lease_until))
        if flow and flow.rate is not None and out:
            self._starts.setdefault(queue, deque()).extend([now] * len(out))
        return out

    # ---- pause and flow control (drivers/flow.py) --------------------------------

    @staticmethod
    def _running(q: _Queue) -> int:
        return sum(1 for e in q.jobs.values() if e.state == "reserved")

    def _started(self, queue: str, flow: Flow, now: float) -> int:
        """Starts inside the rate's sliding window (older ones are dropped)."""
        starts = self._starts.get(queue)
        if starts is None or flow.rate is None:
            return 0
        while starts and starts[0] <= now - flow.rate.window:
            starts.popleft()
        return len(starts)

    async def set_paused(self, queue: str, paused: bool) -> bool:
        was = queue in self._paused
        if paused:
            self._paused.add(queue)
        else:
            self._paused.discard(queue)
            self._wake(queue)
        return was

    async def paused(self, queue: str) -> bool:
        return queue in self._paused

    async def held(self, queue: str, flow: Flow) -> Hold | None:
        q = self._q(queue)
        now = time.time()
        self._recover_leases(q, now)
        if not self._in_state(q, "pending", now):
            return None
        started = self._started(queue, flow, now)
        starts = self._starts.get(queue)
        oldest = starts[0] if starts else None
        return hold_of(flow, queue in self._paused, self._running(q), started, oldest, now)

    def _held(self, queue: str, job_id: str, token: str) -> _Entry | None:
        entry = self._q(queue).jobs.get(job_id)
        if entry is None or entry.state != "reserved" or entry.token != token:
            return None
        if entry.lease_until <= time.time():
            return None
        return entry

    async def renew(self, queue: str, job_id: str, token: str,
                    lease: float) -> bool | Literal["cancelled"]:
        entry = self._held(queue, job_id, token)
        if entry is None:
            return False
        entry.lease_until = time.time() + lease
        heapq.heappush(self._q(queue).leases, (entry.lease_until, job_id))
        return CANCELLED if entry.cancel == token else True

    async def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        held = [self._settle_one(o) for o in outcomes]
        for o, ok in zip(outcomes, held, strict=True):
            if ok and o.kind != "release":
                self._notify(o.job_id)
        return held

    def _settle_one(self, o: Outcome) -> bool:
        entry = self._held(o.queue, o.job_id, o.token)
        if entry is None:
            return False
        q = self._q(o.queue)
        now = time.time()
        entry.token = None
        if o.kind == "ack":
            self._drop_lock(entry)
            del q.jobs[o.job_id]
            if o.result_ttl > 0 and o.result is not None:
                self._keep(q, entry.env, o.result, now, o.result_ttl)
        elif o.kind == "release":
            attempt = entry.env.attempt - 1 if o.give_back_attempt else entry.env.attempt
            entry.env = entry.env.evolve(available_at=now + o.delay, attempt=max(attempt, 0))
            entry.state = "delayed" if o.delay > 0 else "pending"
            entry.error = o.error
            heapq.heappush(q.ready, (entry.env.available_at, o.job_id))
            self._wake(o.queue)
        else:
            self._to_failed(q, entry, o.error or "failed", o.traceback, now)
        return True

    def _to_failed(
        self, q: _Queue, entry: _Entry, error: str, tb: str | None, now: float
    ) -> None:
        self._drop_lock(entry)
        entry.state = "failed"
        entry.error, entry.traceback, entry.failed_at = error, tb, now
        del q.jobs[entry.env.id]
        q.failed[entry.env.id] = entry

    # ---- results and cancel -----------------------------------------------------

    def _keep(self, q: _Queue, env: Envelope, result: str, now: float, ttl: float) -> None:
        for job_id in [i for i, k in q.kept.items() if k.expires <= now][:_SWEEP]:
            del q.kept[job_id]
        q.kept[env.id] = _Kept(env, result, now, now + ttl)

    def _kept(self, q: _Queue, job_id: str) -> JobRecord | None:
        kept = q.kept.get(job_id)
        if kept is None or kept.expires <= time.time():
            q.kept.pop(job_id, None)
            return None
        return JobRecord(kept.env, "succeeded", result=decode_result(kept.result),
                         finished_at=kept.finished_at)

    async def cancel(self, queue: str, job_id: str) -> CancelOutcome | None:
        q = self._q(queue)
        self._recover_leases(q, time.time())
        entry = q.jobs.get(job_id)
        if entry is not None and entry.state == "reserved":
            entry.cancel = entry.token
            return "requested"
        if entry is not None:
            del q.jobs[job_id]
            self._drop_lock(entry)
            self._notify(job_id)
            return "deleted"
        if job_id in q.failed:
            return "failed"
        return "succeeded" if self._kept(q, job_id) is not None else None

    def _notify(self, job_id: str) -> None:
        for (_loop, waited), ev in list(self._settled.items()):
            if waited == job_id:
                ev.set()

    async def wait_result(self, queue: str, job_id: str, timeout: float) -> None:
        key = (id(asyncio.get_running_loop()), job_id)
        ev = self._settled.setdefault(key, asyncio.Event())
        try:
            await wait_any([ev], timeout)
        finally:
            self._settled.pop(key, None)

    # ---- inspection -------------------------------------------------------------

    async def get(self, queue: str, job_id: str) -> JobRecord | None:
        q = self._q(queue)
        self._recover_leases(q, time.time())
        entry = q.jobs.get(job_id) or q.failed.get(job_id)
        return self._kept(q, job_id) if entry is None else self._record(entry)

    def _record(self, entry: _Entry) -> JobRecord:
        state = entry.state
        if state in ("pending", "delayed"):
            state = "delayed" if entry.env.available_at > time.time() else "pending"
        return JobRecord(entry.env, state, entry.error, entry.traceback, entry.failed_at)

    async def delete(self, queue: str, job_id: str) -> bool:
        q = self._q(queue)
        entry = q.failed.pop(job_id, None)
        if entry is None:
            entry = q.jobs.get(job_id)
            if entry is None or entry.state == "reserved":
                return False
            del q.jobs[job_id]
        self._drop_lock(entry)
        return True

    async def counts(self, queue: str) -> QueueCounts:
        q = self._q(queue)
        now = time.time()
        self._recover_leases(q, now)
        pending = delayed = reserved = 0
        for e in q.jobs.values():
            if e.state == "reserved":
                reserved += 1
            elif e.env.available_at > now:
                delayed += 1
            else:
                pending += 1
        return QueueCounts(pending, delayed, reserved, len(q.failed))

    async def list_failed(self, queue: str, limit: int = 100, offset: int = 0) -> list[JobRecord]:
        entries = sorted(self._q(queue).failed.values(), key=lambda e: (e.failed_at or 0, e.env.id))
        return [self._record(e) for e in entries[offset:offset + limit]]

    async def list_jobs(
        self, queue: str, state: ListState, limit: int, after: str | None = None
    ) -> list[JobRecord]:
        # In-process and small by nature: a sort per page is the honest index here.
        q = self._q(queue)
        now = time.time()
        self._recover_leases(q, now)
        rows = sorted(((self._listed_time(e, state), e.env.id, e)
                       for e in self._in_state(q, state, now)), reverse=True)
        if after is not None:
            when = next((t for t, i, _ in rows if i == after), id_time(after))
            rows = [row for row in rows if (row[0], row[1]) < (when, after)]
        return [self._record(e) for _, _, e in rows[:max(limit, 0)]]

    def _in_state(self, q: _Queue, state: ListState, now: float) -> list[_Entry]:
        if state == "failed":
            return list(q.failed.values())
        due = state == "pending"
        return [e for e in q.jobs.values()
                if e.state != "reserved" and (e.env.available_at <= now) == due]

    @staticmethod
    def _listed_time(entry: _Entry, state: ListState) -> float:
        return (entry.failed_at or 0.0) if state == "failed" else entry.env.available_at

    async def oldest_due(self, queue: str) -> float | None:
        q = self._q(queue)
        now = time.time()
        self._recover_leases(q, now)
        due = [e.env.available_at for e in self._in_state(q, "pending", now)]
        return min(due, default=None)

    async def retry_failed(self, queue: str, job_ids: Sequence[str] | None) -> int:
        q = self._q(queue)
        ids = list(q.failed) if job_ids is None else [i for i in job_ids if i in q.failed]
        now = time.time()
        for job_id in ids:
            entry = q.failed.pop(job_id)
            entry.env = entry.env.evolve(attempt=0, available_at=now)
            entry.state, entry.failed_at = "pending", None
            q.jobs[job_id] = entry
            heapq.heappush(q.ready, (now, job_id))
        if ids:
            self._wake(queue)
        return len(ids)

    async def purge_failed(self, queue: str, older_than: float | None = None) -> int:
        q = self._q(queue)
        doomed = [
            i for i, e in q.failed.items()
            if older_than is None or (e.failed_at or 0) < older_than
        ]
        for job_id in doomed:
            del q.failed[job_id]
        return len(doomed)

    async def purge(self, queue: str) -> int:
        q = self._q(queue)
        n = len(q.jobs) + len(q.failed)
        for entry in q.jobs.values():
            self._drop_lock(entry)
        self._queues[queue] = _Queue()
        return n

    # ---- stats and instances ------------------------------------------------------

    async def add_stats(self, worker: str, delta: StatsDelta) -> None:
        s = self._stats.setdefault(worker, [0, 0, 0])
        s[0] += delta.succeeded
        s[1] += delta.failed
        s[2] += delta.retried

    async def worker_counts(self, worker: str) -> WorkerCounts:
        ok, failed, retried = self._stats.get(worker, [0, 0, 0])
        now = time.time()
        live = {i: t for i, t in self._instances.get(worker, {}).items() if t > now}
        self._instances[worker] = live
        return WorkerCounts(ok + failed + retried, ok, failed, retried, len(live))

    async def heartbeat(self, worker: str, instance: str, ttl: float) -> None:
        self._instances.setdefault(worker, {})[instance] = time.time() + ttl

    async def leave(self, worker: str, instance: str) -> None:
        self._instances.get(worker, {}).pop(instance, None)

    # ---- schedules ------------------------------------------------------------------

    async def fire(self, claim: SlotClaim) -> FireResult:
        """Claim and push with no await in between: atomic on this event loop."""
        if claim.item is not None:
            check_items("memory", [claim.item])
        key = (claim.queue, claim.schedule)
        state = self._slots.get(key)
        previous = None if state is None else state.watermark
        if state is not None and state.watermark >= claim.slot:
            return FireResult("taken", previous=previous)
        fired, job_id = (None, None) if state is None else (state.fired, state.job_id)
        if claim.item is None:
            self._slots[key] = SlotState(claim.slot, fired, job_id)
            return FireResult("advanced", previous=previous)
        q = self._q(claim.queue)
        self._recover_leases(q, time.time())  # a lapsed last attempt is failed, not live
        if claim.skip_overlap and job_id is not None and job_id in q.jobs:
            self._slots[key] = SlotState(claim.slot, fired, job_id)
            return FireResult("skipped", job_id, previous)
        new_id = self._push_one(claim.item, time.time())
        self._slots[key] = SlotState(claim.slot, claim.slot, new_id)
        return FireResult("fired", new_id, previous)

    async def slot_state(self, queue: str, schedule: str) -> SlotState | None:
        return self._slots.get((queue, schedule))

    # ---- waking -------------------------------------------------------------------

    def _event(self, queue: str) -> asyncio.Event:
        key = (id(asyncio.get_running_loop()), queue)
        ev = self._events.get(key)
        if ev is None:
            ev = self._events[key] = asyncio.Event()
        return ev

    def _wake(self, queue: str) -> None:
        for (_loop, name), ev in self._events.items():
            if name == queue:
                ev.set()

    async def wait(self, queues: Sequence[str], timeout: float) -> None:
        now = time.time()
        due = [self._next_due(q) for q in queues]
        soonest = min((d for d in due if d is not None), default=None)
        if soonest is not None:
            timeout = min(timeout, max(0.0, soonest - now))
        events = [self._event(q) for q in queues]
        try:
            await wait_any(events, timeout)
        finally:
            for ev in events:
                ev.clear()

    def _next_due(self, queue: str) -> float | None:
        q = self._q(queue)
        times = []
        if q.ready and queue not in self._paused:  # a paused queue's jobs are not due
            times.append(q.ready[0][0])
        if q.leases:
            times.append(q.leases[0][0])
        return min(times) if times else None


#: The ``memory`` driver type: no manifest keys.
DRIVER_TYPE = DriverType("memory", MemoryDriver.CAPABILITIES, (), MemoryDriver.from_config)
