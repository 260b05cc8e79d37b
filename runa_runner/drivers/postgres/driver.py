"""PostgresDriver: jobs in the PostgreSQL the team already runs, pushed inside its transactions.

Each call is one short statement on a pooled connection in autocommit (a push batch,
a reserve of ``count`` jobs, a settle of a whole batch); no transaction is ever held
while a handler runs. Rows a reserve finds unreadable are moved to failed by a second
statement on the same connection, fenced by that reserve's token (see moves.reserve).
The SQL is in ``sql/``, the plans that run it in ``moves.py``; connection pools
(psycopg_pool) are made per event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import psycopg
import psycopg_pool

from ...errors import ConfigError, DriverError
from ..base import (
    ALL_CAPABILITIES,
    CANCELLED,
    LEASE_LOST,
    CancelOutcome,
    ConfigKey,
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
from ..flow import Flow, Hold
from . import counters, moves, records, results, slots
from . import flow as flow_
from .borrowing import borrowed
from .connection import CONNECT_TIMEOUT, Settings, ensure_schema, is_disconnect, translated
from .counters import PendingStats
from .cursor import id_time
from .queries import statements
from .runner import drive_in_transaction, drive_sync_in_transaction
from .waiting import Listener

T = TypeVar("T")

#: Rows per batch of purge / retry / retention deletes (a large queue is cleared in many
#: short statements, never one long one holding locks on millions of rows).
BATCH = 1000
#: Most jobs one reserve call hands out.
MAX_RESERVE = 1000
#: Seconds to wait for another event loop to close its pool.
CLOSE_TIMEOUT = 5.0
DEFAULT_URL = "postgresql://127.0.0.1:5432/runa"
DEFAULT_SCHEMA = "runa"

#: Prefix of the NOTIFY payload (and listener event) of a kept result: "result:<id>".
_RESULT = "result:"

#: The statement that pages through each state of ``list_jobs``.
LISTING = {"pending": "list_pending", "delayed": "list_delayed", "failed": "list_failed_newest"}

#: The manifest keys of the ``postgres`` driver type.
CONFIG = (
    ConfigKey("url", "string", DEFAULT_URL),
    ConfigKey("schema", "string", DEFAULT_SCHEMA),
    ConfigKey("pool_size", "integer"),
    ConfigKey("notify", "boolean", True),
)


@dataclass(slots=True)
class _Loop:
    """What belongs to one event loop: its pools (see ``Settings.async_pool``), waiters,
    and the worker counters waiting for a write (counters.py)."""

    pool: psycopg_pool.AsyncConnectionPool[Any]
    durable: psycopg_pool.AsyncConnectionPool[Any]
    listener: Listener
    stats: PendingStats = field(default_factory=PendingStats)
    flushing: asyncio.Task[None] | None = None


class PostgresDriver:
    """Jobs in PostgreSQL tables under one schema; every capability, wake-ups by NOTIFY."""

    type_name = "postgres"
    CAPABILITIES = ALL_CAPABILITIES
    capabilities = CAPABILITIES

    def __init__(self, url: str = DEFAULT_URL, *, schema: str = DEFAULT_SCHEMA,
                 pool_size: int | None = None, notify: bool = True) -> None:
        self.settings = Settings.parse(url, schema, pool_size, notify)
        self._q = statements(self.settings.schema)
        self._r = results.statements(self.settings.schema)
        self._ready = False  # the schema exists (checked once per driver)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Loop] = (
            weakref.WeakKeyDictionary())
        self._sync: psycopg_pool.ConnectionPool[Any] | None = None
        self._sync_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any], base_dir: Path) -> PostgresDriver:
        """Build from a manifest's driver keys: url, schema, pool_size, notify."""
        known = {"type", *(key.name for key in CONFIG)}
        unknown = sorted(k for k in config if k not in known and not k.startswith("x-"))
        if unknown:
            raise ConfigError(f"postgres driver: unknown key(s) {', '.join(unknown)}")
        pool_size = config.get("pool_size")
        return cls(str(config.get("url", DEFAULT_URL)),
                   schema=str(config.get("schema", DEFAULT_SCHEMA)),
                   pool_size=None if pool_size is None else pool_size,
                   notify=bool(config.get("notify", True)))

    def describe(self) -> DriverInfo:
        return DriverInfo(type="postgres", target=self.settings.target,
                          extra={"schema": self.settings.schema})

    # ---- connections ------------------------------------------------------------------

    def _loop(self) -> _Loop:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _Loop(self.settings.async_pool(durable=False),
                                              self.settings.async_pool(durable=True),
                                              Listener(self.settings))
        return state

    async def open(self) -> None:
        """Create or upgrade the tables on first use, then open this loop's pool."""
        with translated(self.settings):
            if not self._ready:
                await ensure_schema(self.settings)
                self._ready = True
            state = self._loop()
            if state.pool.closed:
                await state.pool.open(wait=True, timeout=CONNECT_TIMEOUT)
            if state.durable.closed:
                await state.durable.open(wait=False)

    async def close(self) -> None:
        """Close every pool: this loop's here, a running other loop's on that loop."""
        here = asyncio.get_running_loop()
        mine = self._loops.get(here)
        if mine is not None and mine.stats and not mine.pool.closed:
            with contextlib.suppress(DriverError):  # the server is gone: so are the counts
                await self._flush_stats(mine)
        opened, self._loops = dict(self._loops), weakref.WeakKeyDictionary()
        sync, self._sync = self._sync, None
        if sync is not None:
            sync.close()
        for loop, state in opened.items():
            if loop is here:
                await self._close(state)
            elif loop.is_running():
                done = asyncio.run_coroutine_threadsafe(self._close(state), loop)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.wrap_future(done), CLOSE_TIMEOUT)

    async def _run(self, make: Callable[[], moves.Plan[T]], *, transaction: bool = False,
                   durable: bool = False,
                   again: Callable[[], moves.Plan[T]] | None = None) -> T:
        """Run a plan on a pooled connection (``transaction``: its statements in one;
        ``durable``: committed to disk before it returns). A connection the server
        dropped (a restart) is noticed on use: the pool is checked and the call tried
        once more, with the plan ``again`` makes if given (the first try may have
        committed)."""
        if not self._ready:
            await self.open()
        state = self._loop()
        if state.pool.closed:
            await self.open()
        pool = state.durable if durable else state.pool
        with translated(self.settings):
            for attempt in (0, 1):
                conn: psycopg.AsyncConnection[Any] | None = None
                try:
                    async with borrowed(pool) as conn:
                        plan = (again or make)() if attempt else make()
                        return await drive_in_transaction(conn, plan, transaction)
                except psycopg.OperationalError as exc:
                    if attempt or not is_disconnect(exc, conn):
                        raise
                    await pool.check()
        raise AssertionError("unreachable")

    async def _one(self, name: str, **params: Any) -> moves.Rows:
        return await self._run(lambda: moves.one(self._q[name], params))

    async def _durable(self, name: str, **params: Any) -> moves.Rows:
        return await self._run(lambda: moves.one(self._q[name], params), durable=True)

    # ---- push, reserve, settle ----------------------------------------------------

    async def push(self, items: Sequence[PushItem], *, connection: Any = None) -> list[str]:
        """Enqueue the batch. With ``connection`` (a psycopg connection, async or sync)
        the jobs are written inside that connection's transaction: they exist, and
        their unique locks are held, only if it commits."""
        if not items:
            return []
        several = moves.statement_count(items) > 1
        if connection is not None:
            return await self._push_on(connection, items, several)
        ids = await self._run(lambda: self._push_plan(items, fresh=True), transaction=several,
                              durable=True, again=lambda: self._push_plan(items))
        self._wake_local({item.envelope.queue for item in items})
        return ids

    def _push_plan(self, items: Sequence[PushItem], *,
                   fresh: bool = False) -> moves.Plan[list[str]]:
        """``fresh``: the ids cannot exist yet (see queries.FRESH): a push from a pool of
        runa-runner's own, on its first try."""
        return moves.push(self._q, items, self.settings.channel, self.settings.notify, fresh)

    async def _push_on(self, conn: Any, items: Sequence[PushItem], several: bool) -> list[str]:
        if not self._ready:
            await self.open()
        with translated(self.settings):
            if isinstance(conn, psycopg.AsyncConnection):
                return await drive_in_transaction(conn, self._push_plan(items), several)
            if isinstance(conn, psycopg.Connection):
                return drive_sync_in_transaction(conn, self._push_plan(items), several)
        raise ConfigError(f"postgres driver: connection= must be a psycopg Connection or "
                          f"AsyncConnection, not {type(conn).__name__}")

    def push_blocking(self, items: Sequence[PushItem], *, connection: Any = None) -> list[str]:
        """``push`` from sync code in the caller's thread (no event loop hop), on a sync
        pool, or on the caller's sync ``connection`` inside its transaction."""
        if not items:
            return []
        self._ensure_ready_blocking()
        several = moves.statement_count(items) > 1
        with translated(self.settings):
            if connection is not None:
                if not isinstance(connection, psycopg.Connection):
                    raise ConfigError(
                        f"postgres driver: push_sync(connection=...) needs a sync psycopg "
                        f"Connection, not {type(connection).__name__}")
                return drive_sync_in_transaction(connection, self._push_plan(items), several)
            with self._sync_pool().connection() as conn:
                return drive_sync_in_transaction(conn, self._push_plan(items, fresh=True),
                                                 several)

    def _ensure_ready_blocking(self) -> None:
        if self._ready:
            return
        with self._sync_lock, translated(self.settings):
            if not self._ready:
                asyncio.run(ensure_schema(self.settings))
                self._ready = True

    def _sync_pool(self) -> psycopg_pool.ConnectionPool[Any]:
        with self._sync_lock:
            if self._sync is None:
                self._sync = self.settings.sync_pool()
                self._sync.open(wait=False)
            return self._sync

    async def reserve(self, queue: str, count: int, lease: float,
                      flow: Flow | None = None) -> list[Reserved]:
        if count <= 0:
            return []
        n = min(count, MAX_RESERVE)
        if flow:
            f, schema = flow_.statements(self.settings.schema), self.settings.schema
            return await self._run(
                lambda: flow_.reserve_limited(self._q, f, schema, queue, n, lease, flow),
                transaction=True)
        return await self._run(lambda: moves.reserve(self._q, queue, n, lease))

    async def renew(self, queue: str, job_id: str, token: str,
                    lease: float) -> bool | Literal["cancelled"]:
        rows = await self._one("renew", queue=queue, id=job_id, token=token, lease=float(lease))
        if not rows:
            return False
        return CANCELLED if rows[0][1] else True

    async def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        pending = self._loop().stats
        taken = pending.take()
        stats = counters.params(taken)
        keeping = [o for o in outcomes if o.kind == "ack" and o.result_ttl > 0]
        try:
            held = await self._run(lambda: self._settle_plan(outcomes, keeping, stats),
                                   transaction=bool(keeping))
        except BaseException:
            pending.give_back(taken)
            raise
        self._wake_local({o.queue for o, ok in zip(outcomes, held, strict=True)
                          if ok and o.kind == "release"})
        return held

    def _settle_plan(self, outcomes: Sequence[Outcome], keeping: Sequence[Outcome],
                     stats: Mapping[str, Any]) -> moves.Plan[list[bool]]:
        """The settle statement, after the copy of the jobs whose result is kept (in the
        same transaction); without such acks, the settle statement alone, as ever."""
        channel, notify = self.settings.channel, self.settings.notify
        if keeping:
            yield from results.keep(self._r, keeping, channel, notify)
        held: list[bool] = yield from moves.settle(self._q, outcomes, channel, notify, stats)
        if keeping:
            self._wake_local({_RESULT + o.job_id for o in keeping})
        return held
    # ---- pause and flow control (flow.py) ----------------------------------------------

    async def set_paused(self, queue: str, paused: bool) -> bool:
        f = flow_.statements(self.settings.schema)
        if paused:
            rows = await self._run(lambda: moves.one(f["pause"], {"queue": queue}),
                                   durable=True)
        else:
            rows = await self._run(lambda: moves.one(f["resume"], {
                "queue": queue, "channel": self.settings.channel,
                "notify": self.settings.notify}), durable=True)
            self._wake_local({queue})
        return bool(rows[0][0])

    async def paused(self, queue: str) -> bool:
        f = flow_.statements(self.settings.schema)
        rows = await self._run(lambda: moves.one(f["is_paused"], {"queue": queue}))
        return bool(rows[0][0])

    async def held(self, queue: str, flow: Flow) -> Hold | None:
        f = flow_.statements(self.settings.schema)
        hold: Hold | None = await self._run(lambda: flow_.held(f, queue, flow))
        return hold

    # ---- schedules ------------------------------------------------------------------

    async def fire(self, claim: SlotClaim) -> FireResult:
        """Claim a schedule's slot and push its job in one transaction (slots.py)."""
        s = slots.statements(self.settings.schema)
        result: FireResult = await self._run(
            lambda: slots.fire(self._q, s, claim, self.settings.channel, self.settings.notify),
            transaction=True, durable=True)
        if result.outcome == "fired":
            self._wake_local({claim.queue})
        return result

    async def slot_state(self, queue: str, schedule: str) -> SlotState | None:
        statement = slots.statements(self.settings.schema)["slot_state"]
        rows = await self._run(lambda: moves.one(statement, {"queue": queue,
                                                            "schedule": schedule}))
        return slots.state_of(rows)

    # ---- inspection and housekeeping --------------------------------------------------

    async def _recover(self, queue: str) -> None:
        await self._one("recover", queue=queue, lease_lost=LEASE_LOST)

    async def get(self, queue: str, job_id: str) -> JobRecord | None:
        await self._recover(queue)
        rows = await self._one("get", queue=queue, id=job_id)
        if rows:
            return records.job(queue, rows[0])
        kept = await self._run(lambda: moves.one(self._r["kept"], {"queue": queue,
                                                                   "id": job_id}))
        return results.kept(kept[0], queue) if kept else None

    # ---- results and cancel -----------------------------------------------------------

    async def cancel(self, queue: str, job_id: str) -> CancelOutcome | None:
        done: CancelOutcome | None = await self._run(
            lambda: results.cancel(self._q, self._r, queue, job_id, LEASE_LOST),
            transaction=True, durable=True)
        return done

    async def wait_result(self, queue: str, job_id: str, timeout: float) -> None:
        """Wakes on the NOTIFY of keep (payload "result:<id>"), or a settle of this
        process; the caller looks again after ``timeout`` either way."""
        if timeout <= 0:
            return
        listener = self._loop().listener
        if self.settings.notify:
            with translated(self.settings):
                if await listener.listen():
                    return  # not listening until now: the caller looks first
        await listener.wait([_RESULT + job_id], timeout)

    async def delete(self, queue: str, job_id: str) -> bool:
        rows = await self._durable("delete", queue=queue, id=job_id)
        return bool(rows and rows[0][0])

    async def counts(self, queue: str) -> QueueCounts:
        await self._recover(queue)
        [(pending, delayed, reserved, failed)] = await self._one("counts", queue=queue)
        return QueueCounts(int(pending), int(delayed), int(reserved), int(failed))

    async def list_failed(self, queue: str, limit: int = 100, offset: int = 0) -> list[JobRecord]:
        if limit <= 0:
            return []
        rows = await self._one("list_failed", queue=queue, limit=limit, offset=max(offset, 0))
        return [records.job(queue, row) for row in rows]

    async def list_jobs(self, queue: str, state: ListState, limit: int,
                        after: str | None = None) -> list[JobRecord]:
        """Up to ``limit`` jobs in ``state`` (pending, delayed, failed), newest first, paged
        by the last id of the previous page (an index range, never an offset); see
        ``Driver.list_jobs``."""
        name = LISTING.get(state)
        if name is None:
            raise ConfigError(f"postgres driver: cannot list jobs in state {state!r}")
        when, last = (float("inf"), "") if after is None else (
            await self._cursor_time(queue, state, after), after)
        rows = await self._one(name, queue=queue, when=when, last=last, limit=max(limit, 0))
        return [records.job(queue, row) for row in rows]

    async def _cursor_time(self, queue: str, state: str, job_id: str) -> float:
        """The ordering time of the cursor's job in ``state``, else the time its id was
        made (the job left the state meanwhile)."""
        for row_state, value in await self._one("cursor_row", queue=queue, id=job_id):
            if (row_state == "failed") == (state == "failed") and isinstance(value, float):
                return value
        return id_time(job_id)

    async def oldest_due(self, queue: str) -> float | None:
        """``available_at`` of the oldest job due now, or None."""
        [(due,)] = await self._one("oldest_due", queue=queue)
        return float(due) if isinstance(due, float) else None

    async def retry_failed(self, queue: str, job_ids: Sequence[str] | None) -> int:
        total = 0
        chunks = [None] if job_ids is None else [
            list(dict.fromkeys(job_ids))[i:i + BATCH] for i in range(0, len(job_ids), BATCH)]
        for chunk in chunks:
            while True:
                [(moved, _)] = await self._durable(
                    "retry_failed", queue=queue, ids=chunk, limit=BATCH,
                    channel=self.settings.channel, notify=self.settings.notify)
                total += int(moved)
                if chunk is not None or moved < BATCH:
                    break
        if total:
            self._wake_local({queue})
        return total

    async def purge_failed(self, queue: str, older_than: float | None = None) -> int:
        return await self._batches("purge_failed", queue=queue, older_than=older_than)

    async def purge(self, queue: str) -> int:
        return (await self._batches("purge_jobs", queue=queue)
                + await self._batches("purge_failed", queue=queue, older_than=None))

    async def _batches(self, name: str, **params: Any) -> int:
        """Repeat a bounded delete until a batch comes back short."""
        total = 0
        while True:
            [(n,)] = await self._durable(name, limit=BATCH, **params)
            total += int(n)
            if n < BATCH:
                return total

    # ---- stats, instances, waking -------------------------------------------------------

    async def add_stats(self, worker: str, delta: StatsDelta) -> None:
        """Counters wait for the next settle to carry them (counters.py), at most
        FLUSH_AFTER seconds."""
        if not delta:
            return
        state = self._loop()
        state.stats.add(worker, delta)
        if state.flushing is None or state.flushing.done():
            state.flushing = asyncio.create_task(self._flush_later(state))

    async def _flush_later(self, state: _Loop) -> None:
        await asyncio.sleep(counters.FLUSH_AFTER)
        with contextlib.suppress(DriverError):  # kept; the next settle or flush retries
            await self._flush_stats(state)

    async def _flush_stats(self, state: _Loop) -> None:
        taken = state.stats.take()
        if not taken:
            return
        try:
            await self._one("add_stats", **counters.params(taken))
        except BaseException:
            state.stats.give_back(taken)
            raise

    async def worker_counts(self, worker: str) -> WorkerCounts:
        await self._flush_stats(self._loop())
        [(ok, failed, retried, live)] = await self._one("worker_counts", worker=worker)
        ok, failed, retried = int(ok), int(failed), int(retried)
        return WorkerCounts(ok + failed + retried, ok, failed, retried, int(live))

    async def heartbeat(self, worker: str, instance: str, ttl: float) -> None:
        await self._one("heartbeat", worker=worker, instance=instance, ttl=float(ttl))

    async def leave(self, worker: str, instance: str) -> None:
        await self._flush_stats(self._loop())
        await self._one("leave", worker=worker, instance=instance)

    async def wait(self, queues: Sequence[str], timeout: float) -> None:
        """Return when a job of ``queues`` was pushed (NOTIFY), one falls due, a lease
        lapses, or after ``timeout``."""
        if not queues or timeout <= 0:
            return
        listener = self._loop().listener
        if self.settings.notify:
            with translated(self.settings):
                if await listener.listen():
                    return
        # Shielded: a wait is cancelled whenever the worker stops waiting, and a query
        # cancelled twice (stop after wake-up) breaks psycopg's pooled-connection context
        # on Python 3.11; the query finishes on its own, in a moment.
        lookup = asyncio.ensure_future(self._one("next_due", queues=list(queues)))
        lookup.add_done_callback(_consume)
        [(due, now)] = await asyncio.shield(lookup)
        if due is not None:
            timeout = min(timeout, max(0.0, due - now))
        await listener.wait(queues, timeout)

    async def _close(self, state: _Loop) -> None:
        if state.flushing is not None:
            state.flushing.cancel()
        await state.listener.close()
        await state.pool.close()
        await state.durable.close()

    def _wake_local(self, queues: set[str]) -> None:
        """Wake this process's waiters at once (with notify off, nothing else does)."""
        if not queues:
            return
        names = sorted(queues)
        here = asyncio.get_running_loop()
        for loop, state in list(self._loops.items()):
            if loop is here:
                state.listener.wake(names)
                continue
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(state.listener.wake, names)


def _consume(task: asyncio.Future[Any]) -> None:
    """Mark a shielded call's outcome as seen (its waiter may have been cancelled)."""
    if not task.cancelled():
        task.exception()



