"""The SQLite driver: durable jobs in one local file, shared by every process on the machine.

All sqlite3 calls run on one dedicated thread per driver (a one-thread executor
that owns the connection), so the event loop never blocks on the disk or on
another process's write lock. Each call is one transaction: a whole push batch,
a reserve of ``count`` jobs, a batch of settlements. The transactional logic
lives in ``moves.py`` (job flow) and ``admin.py`` (inspection and housekeeping),
the SQL in ``sql/``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from os import PathLike
from pathlib import Path
from typing import Any, Literal, TypeVar

from ...durations import DurationError, parse_duration
from ...errors import ConfigError, DriverError
from ..base import (
    ALL_CAPABILITIES,
    CancelOutcome,
    Capability,
    DriverInfo,
    FireResult,
    JobRecord,
    ListState,
    Outcome,
    PushItem,
    QueueCounts,
    Reserved,
    SlotClaim,
    SlotState,
    StatsDelta,
    WorkerCounts,
)
from ..bounds import check_items
from ..flow import Flow, Hold
from . import admin, moves, results, slots
from . import flow as flow_
from .connection import connect, run_read, run_write
from .identity import FileIdentity

log = logging.getLogger("runa_runner.sqlite")

T = TypeVar("T")

#: The file used when a manifest or caller names none (relative to the manifest's folder).
DEFAULT_PATH = ".runa/queue.db"
#: How often an idle ``wait`` checks whether another process wrote (a cheap PRAGMA).
WATCH_INTERVAL = 0.05
#: Longest ``wait_result`` before the caller looks again (another process may settle).
RESULT_POLL = 0.2
#: Marks a ``_waiters`` key as a job id awaited by ``wait_result`` (queue names lack it).
_SETTLED = "\x00settled:"


class SQLiteDriver:
    """Jobs in a SQLite file (WAL mode), safe for several worker and push processes at once.

    Args:
        path: the database file; its folder is created. Relative paths are relative
            to the current directory (the manifest's ``path`` is relative to the manifest).
        busy_timeout: seconds SQLite waits for another process's write lock before
            the driver backs off and tries the transaction again.
    """

    type_name = "sqlite"
    #: Everything but WAKE: an idle worker polls (cheaply, see :meth:`wait`).
    CAPABILITIES = ALL_CAPABILITIES - {Capability.WAKE}
    capabilities = CAPABILITIES

    def __init__(self, path: str | PathLike[str] = DEFAULT_PATH, *, busy_timeout: float = 5.0):
        self._path = Path(path)
        self._busy_timeout = float(busy_timeout)
        self._executor: ThreadPoolExecutor | None = None
        self._opening: Future[None] | None = None
        self._conn: sqlite3.Connection | None = None  # touched only on the executor's thread
        self._ident: FileIdentity | None = None  # the file self._conn opened
        #: queue -> events of the coroutines waiting on it (woken by this driver's own writes).
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any], base_dir: Path) -> SQLiteDriver:
        """Build from manifest keys ``path`` (relative to ``base_dir``) and ``busy_timeout``."""
        path = Path(str(config.get("path", DEFAULT_PATH))).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        try:
            busy_timeout = parse_duration(config.get("busy_timeout", 5.0))
        except DurationError as exc:
            raise ConfigError(f"sqlite driver: busy_timeout: {exc}") from None
        return cls(path, busy_timeout=busy_timeout)

    @property
    def path(self) -> Path:
        return self._path

    def describe(self) -> DriverInfo:
        return DriverInfo(type="sqlite", target=str(self._path))

    # ---- lifecycle and the database thread ------------------------------------------

    async def open(self) -> None:
        """Open (creating if needed) the file; raises DriverUnavailable naming the path."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="runa-sqlite")
            self._opening = self._executor.submit(self._connect)
        assert self._opening is not None
        try:
            await asyncio.wrap_future(self._opening)
        except Exception:
            if self._executor is not None and self._conn is None:
                self._executor.shutdown(wait=False)
                self._executor = self._opening = None
            raise

    def _connect(self) -> None:
        self._conn = connect(self._path, self._busy_timeout)
        self._ident = FileIdentity(self._path)

    def _connection(self) -> sqlite3.Connection:
        """The open connection, reopened by path if its file was deleted or replaced.

        A deleted file is created again (as ``push`` would): every process then
        meets at the path again. The jobs of the old file are gone with it.
        """
        if self._conn is None:
            raise DriverError(f"sqlite: driver for {self._path} is closed")
        change = None if self._ident is None else self._ident.change()
        if change is not None:
            log.warning("sqlite: database file %s was %s while in use; reopening it "
                        "(jobs in the old file are no longer served)", self._path, change)
            self._disconnect()
            self._connect()
            assert self._conn is not None
        return self._conn

    async def close(self) -> None:
        executor, self._executor, self._opening = self._executor, None, None
        if executor is None:
            return
        await asyncio.wrap_future(executor.submit(self._disconnect))
        executor.shutdown(wait=False)

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _call(self, write: bool, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            await self.open()
        assert self._executor is not None
        run = run_write if write else run_read

        def task() -> T:
            return run(self._connection(), self._path, lambda conn: fn(conn, *args))

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, task)
        except sqlite3.Error as exc:
            raise DriverError(f"sqlite: {fn.__name__} on {self._path} failed: {exc}") from exc

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._call(True, fn, *args)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._call(False, fn, *args)

    # ---- job flow -------------------------------------------------------------------

    async def push(self, items: Sequence[PushItem]) -> list[str]:
        if not items:
            return []
        check_items("sqlite", items)
        ids = await self._write(moves.push, list(items))
        self._wake({item.envelope.queue for item in items})
        return ids

    async def reserve(self, queue: str, count: int, lease: float,
                      flow: Flow | None = None) -> list[Reserved]:
        if count <= 0:
            return []
        out: list[Reserved] = []
        while True:  # rounds of bounded transactions until jobs or no unreadable rows
            got, bad = await self._write(moves.reserve, queue, count - len(out), lease, flow)
            out += got
            for corrupt in bad:
                log.warning("sqlite: job %s of queue '%s' moved to failed: %s",
                            corrupt.job_id, queue, corrupt.error)
            if not bad or len(out) >= count:
                return out

    async def renew(self, queue: str, job_id: str, token: str,
                    lease: float) -> bool | Literal["cancelled"]:
        return await self._write(moves.renew, queue, job_id, token, lease)

    async def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        done = await self._write(moves.settle, list(outcomes))
        self._wake({o.queue for o, ok in zip(outcomes, done, strict=True)
                    if ok and o.kind == "release"})
        self._wake({_SETTLED + o.job_id for o, ok in zip(outcomes, done, strict=True)
                    if ok and o.result_ttl > 0 and o.kind != "release"})
        return done

    # ---- inspection and housekeeping ------------------------------------------------

    async def get(self, queue: str, job_id: str) -> JobRecord | None:
        return await self._write(results.get, queue, job_id)

    # ---- results and cancel ---------------------------------------------------------

    async def cancel(self, queue: str, job_id: str) -> CancelOutcome | None:
        return await self._write(results.cancel, queue, job_id)

    async def wait_result(self, queue: str, job_id: str, timeout: float) -> None:
        """Wakes when this driver settles the job; a settle by another process is seen
        by the caller's next look, at most :data:`RESULT_POLL` seconds later."""
        key = _SETTLED + job_id
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        self._waiters.setdefault(key, set()).add(entry)
        try:
            await _wait_event(event, min(timeout, RESULT_POLL))
        finally:
            waiting = self._waiters.get(key, set())
            waiting.discard(entry)
            if not waiting:
                self._waiters.pop(key, None)

    async def delete(self, queue: str, job_id: str) -> bool:
        return await self._write(admin.delete, queue, job_id)

    async def counts(self, queue: str) -> QueueCounts:
        return await self._write(admin.counts, queue)

    async def list_failed(self, queue: str, limit: int = 100, offset: int = 0) -> list[JobRecord]:
        return await self._read(admin.list_failed, queue, limit, offset)

    async def list_jobs(
        self, queue: str, state: ListState, limit: int, after: str | None = None
    ) -> list[JobRecord]:
        return await self._read(admin.list_jobs, queue, state, limit, after)

    async def oldest_due(self, queue: str) -> float | None:
        return await self._read(admin.oldest_due, queue)

    async def retry_failed(self, queue: str, job_ids: Sequence[str] | None) -> int:
        ids = None if job_ids is None else list(job_ids)
        moved = await self._write(admin.retry_failed, queue, ids)
        if moved:
            self._wake({queue})
        return moved

    async def purge_failed(self, queue: str, older_than: float | None = None) -> int:
        return await self._write(admin.purge_failed, queue, older_than)

    async def purge(self, queue: str) -> int:
        return await self._write(admin.purge, queue)

    async def add_stats(self, worker: str, delta: StatsDelta) -> None:
        if delta:
            await self._write(admin.add_stats, worker, delta)

    async def worker_counts(self, worker: str) -> WorkerCounts:
        return await self._read(admin.worker_counts, worker)

    async def heartbeat(self, worker: str, instance: str, ttl: float) -> None:
        await self._write(admin.heartbeat, worker, instance, ttl)

    async def leave(self, worker: str, instance: str) -> None:
        await self._write(admin.leave, worker, instance)

    # ---- schedules ------------------------------------------------------------------

    async def fire(self, claim: SlotClaim) -> FireResult:
        """Claim a schedule's slot and push its job in one transaction (slots.py)."""
        if claim.item is not None:
            check_items("sqlite", [claim.item])
        result = await self._write(slots.fire, claim)
        if result.outcome == "fired":
            self._wake({claim.queue})
        return result

    async def slot_state(self, queue: str, schedule: str) -> SlotState | None:
        return await self._read(slots.read_state, queue, schedule)

    # ---- pause and flow control (flow.py) ----------------------------------------------

    async def set_paused(self, queue: str, paused: bool) -> bool:
        was = await self._write(flow_.set_paused, queue, paused)
        if not paused:
            self._wake({queue})  # other processes see the write through data_version
        return was

    async def paused(self, queue: str) -> bool:
        return await self._read(flow_.is_paused, queue)

    async def held(self, queue: str, flow: Flow) -> Hold | None:
        return await self._write(flow_.held, queue, flow)

    # ---- waiting ----------------------------------------------------------------------

    async def wait(self, queues: Sequence[str], timeout: float) -> None:
        """Sleep until a job of ``queues`` may be due, a lease may lapse, or ``timeout``.

        Wakes early for this driver's own pushes and releases; another process's
        writes are noticed through PRAGMA data_version every :data:`WATCH_INTERVAL`.
        """
        deadline = time.monotonic() + timeout
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        for queue in queues:
            self._waiters.setdefault(queue, set()).add(entry)
        try:
            soonest, version = await self._read(admin.next_due, list(queues))
            while True:
                now, remaining = time.time(), deadline - time.monotonic()
                if remaining <= 0 or (soonest is not None and soonest <= now):
                    return
                nap = min(remaining, WATCH_INTERVAL)
                if soonest is not None:
                    nap = min(nap, soonest - now)
                if await _wait_event(event, nap):
                    return
                if await self._read(admin.data_version) != version:
                    soonest, version = await self._read(admin.next_due, list(queues))
        finally:
            for queue in queues:
                self._waiters.get(queue, set()).discard(entry)

    def _wake(self, queues: set[str]) -> None:
        for queue in queues:
            for loop, event in list(self._waiters.get(queue, ())):
                try:
                    loop.call_soon_threadsafe(event.set)
                except RuntimeError:  # that loop is closed; its waiter is gone
                    self._waiters[queue].discard((loop, event))


async def _wait_event(event: asyncio.Event, seconds: float) -> bool:
    """True if ``event`` is set within ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
