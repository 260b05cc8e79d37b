"""RedisDriver: the production driver (atomic Lua scripts, cluster-ready, wakes idle workers).

Every state change is one Lua script (see ``lua/``), so a crash between two Redis
commands cannot leave a half-moved job or an orphan unique lock; every time that
orders jobs comes from the server's clock. Batches are pipelined: a push of many
jobs is one script call per chunk, a settle of many outcomes one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from redis.asyncio import Redis
from redis.client import NEVER_DECODE

from ...errors import ConfigError
from ...redaction import redact, secrets
from ..base import (
    ALL_CAPABILITIES,
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
    id_time,
)
from ..flow import Flow, Hold, hold_of
from . import records, scripts, slots
from .connection import Client, Settings, SyncClient, translated
from .durability import warn_if_evicting
from .keys import flow_keys, queue_keys, result_keys, worker_keys
from .records import kept_record
from .waiting import wait

log = logging.getLogger("runa_runner.redis")

#: Jobs per push.lua call (bounds one script's run time and argument count).
PUSH_CHUNK = 250
#: Jobs per purge / retry batch (a queue of millions is cleared in many short scripts).
BATCH = 1000
#: Most jobs one reserve call hands out.
MAX_RESERVE = 1000
#: Seconds to wait for another event loop to close its connections.
CLOSE_TIMEOUT = 5.0


@dataclass(slots=True)
class _Clients:
    """The clients of one event loop: commands, and blocking pops (made on first wait)."""

    main: Client
    blocking: Client | None = None

    async def aclose(self) -> None:
        for client in (self.main, self.blocking):
            if client is not None:
                await client.aclose()


#: The manifest keys of a ``redis`` driver.
CONFIG = (
    ConfigKey("url", "string", "redis://127.0.0.1:6379/0"),
    ConfigKey("prefix", "string", "runa:queue:"),
    ConfigKey("cluster", "boolean", False),
    ConfigKey("pool_size", "integer"),
    ConfigKey("socket_timeout", "duration"),
    ConfigKey("socket_connect_timeout", "duration"),
)


class RedisDriver:
    """Jobs in Redis: one hash per job, sorted sets per state, all under the queue's hash tag."""

    type_name = "redis"
    CAPABILITIES = ALL_CAPABILITIES
    capabilities = CAPABILITIES

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "runa:queue:",
        cluster: bool = False,
        pool_size: int | None = None,
        socket_timeout: float | None = None,
        socket_connect_timeout: float | None = None,
    ) -> None:
        self.settings = Settings.parse(url, cluster, pool_size, socket_timeout,
                                       socket_connect_timeout)
        self.prefix = prefix
        self._target = redact(url)
        self._secrets = secrets(url)
        self._policy_checked = False  # maxmemory-policy is checked at the first open
        # redis-py clients belong to the loop that made them; push_sync may use another.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Clients] = (
            weakref.WeakKeyDictionary())
        #: push_blocking's thread-safe client, made on first use
        self._sync: SyncClient | None = None
        self._sync_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any], base_dir: Path) -> RedisDriver:
        """Build from a manifest's driver keys (durations already in seconds)."""
        known = {"type", *(key.name for key in CONFIG)}
        unknown = sorted(k for k in config if k not in known and not k.startswith("x-"))
        if unknown:
            raise ConfigError(f"redis driver: unknown key(s) {', '.join(unknown)}")
        return cls(
            str(config.get("url", "redis://127.0.0.1:6379/0")),
            prefix=str(config.get("prefix", "runa:queue:")),
            cluster=bool(config.get("cluster", False)),
            pool_size=_opt(config.get("pool_size"), int),
            socket_timeout=_opt(config.get("socket_timeout"), float),
            socket_connect_timeout=_opt(config.get("socket_connect_timeout"), float),
        )

    def describe(self) -> DriverInfo:
        extra = {"prefix": self.prefix}
        if self.settings.cluster:
            extra["cluster"] = "true"
        return DriverInfo(type="redis", target=self._target, extra=extra)

    # ---- connections --------------------------------------------------------------

    def _conn(self) -> _Clients:
        loop = asyncio.get_running_loop()
        clients = self._clients.get(loop)
        if clients is None:
            clients = self._clients[loop] = _Clients(self.settings.client())
        return clients

    def _errors(self) -> contextlib.AbstractContextManager[None]:
        return translated(self._target, self._secrets)

    async def open(self) -> None:
        """Connect (on this event loop) and check that the server answers."""
        with self._errors():
            await self._conn().main.ping()
        if not self._policy_checked:
            self._policy_checked = True
            await warn_if_evicting(self._conn().main, self._target)

    async def close(self) -> None:
        """Close every connection: this loop's here, a running other loop's on that loop."""
        here = asyncio.get_running_loop()
        opened, self._clients = dict(self._clients), weakref.WeakKeyDictionary()
        sync, self._sync = self._sync, None
        with self._errors():
            if sync is not None:
                sync.close()
            for loop, clients in opened.items():
                if loop is here:
                    await clients.aclose()
                elif loop.is_running():  # e.g. push_sync's helper loop in its thread
                    done = asyncio.run_coroutine_threadsafe(clients.aclose(), loop)
                    # A loop that does not answer keeps its sockets; closing must not hang.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.wrap_future(done), CLOSE_TIMEOUT)

    async def _run(self, call: scripts.Call[Any]) -> Any:
        with self._errors():
            return await scripts.run(self._conn().main, call)

    async def _run_all(self, calls: Sequence[scripts.Call[Any]]) -> list[Any]:
        if len(calls) == 1:
            return [await self._run(calls[0])]
        with self._errors():
            return await scripts.run_all(self._conn().main, calls)

    # ---- push, reserve, settle ----------------------------------------------------

    def _push_calls(self, items: Sequence[PushItem]) -> tuple[
            list[list[int]], Iterator[scripts.Call[list[str]]]]:
        """The spans of ``items`` per queue and chunk, and their push.lua calls (lazy)."""
        by_queue: dict[str, list[int]] = {}
        for i, it in enumerate(items):
            by_queue.setdefault(it.envelope.queue, []).append(i)
        spans = [(queue, idx[start:start + PUSH_CHUNK])
                 for queue, idx in by_queue.items()
                 for start in range(0, len(idx), PUSH_CHUNK)]
        calls = (scripts.push(queue_keys(self.prefix, queue), [items[i] for i in span])
                 for queue, span in spans)
        return [span for _, span in spans], calls

    async def push(self, items: Sequence[PushItem]) -> list[str]:
        """Enqueue all items: one push.lua call per queue and chunk of PUSH_CHUNK jobs.

        Many chunks are streamed on one connection (the next chunk's arguments are
        built while the server runs the last one); a cluster client pipelines them.
        """
        if len(items) == 1:  # the common single push, without the grouping below
            k = queue_keys(self.prefix, items[0].envelope.queue)
            ids: list[str] = await self._run(scripts.push(k, items))
            return ids
        spans, calls = self._push_calls(items)
        if len(spans) == 1:
            replies = [await self._run(next(calls))]
        elif self.settings.cluster:
            replies = await self._run_all(list(calls))
        else:
            with self._errors():
                client = self._conn().main
                assert isinstance(client, Redis)
                replies = await scripts.stream(client, calls)
        return _merge(len(items), spans, replies)

    def push_blocking(self, items: Sequence[PushItem]) -> list[str]:
        """``push`` from sync code, in the caller's thread, on a sync client (no event
        loop hop: ``push_sync`` from a web request costs one round trip)."""
        with self._sync_lock:
            if self._sync is None:
                self._sync = self.settings.sync_client()
        spans, calls = self._push_calls(items)
        with self._errors():
            replies = [scripts.run_blocking(self._sync, call) for call in calls]
        return _merge(len(items), spans, replies)

    async def reserve(self, queue: str, count: int, lease: float,
                      flow: Flow | None = None) -> list[Reserved]:
        if count <= 0:
            return []
        token_prefix = os.urandom(8).hex() + ":"
        k = queue_keys(self.prefix, queue)
        call = scripts.reserve(k, min(count, MAX_RESERVE), lease, token_prefix, LEASE_LOST,
                               flow_keys(self.prefix, queue), flow)
        jobs, corrupt = records.reserved(queue, await self._run(call))
        if corrupt:
            await self._fail_corrupt(queue, corrupt)
        return jobs

    async def _fail_corrupt(self, queue: str, corrupt: Sequence[records.Corrupt]) -> None:
        """Records reserve handed out that cannot be read go to failed now, with the
        token just handed out (reserve.lua already moved those it could judge itself);
        one warning line each. Only readable jobs reach the worker."""
        k = queue_keys(self.prefix, queue)
        calls = [scripts.fail(k, c.job_id, c.token, c.error) for c in corrupt if c.token]
        if calls:
            await self._run_all(calls)
        for c in corrupt:
            log.warning("redis driver: queue %s: job %s moved to failed: %s",
                        queue, c.shown_id, c.error)

    async def renew(self, queue: str, job_id: str, token: str,
                    lease: float) -> bool | Literal["cancelled"]:
        ok: bool | Literal["cancelled"] = await self._run(
            scripts.renew(queue_keys(self.prefix, queue), job_id, token, lease))
        return ok

    async def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """All outcomes in one round trip: one ack.lua per queue for every ack of the
        batch, one release.lua / fail.lua call per other outcome (each atomic)."""
        if not outcomes:
            return []
        acks: dict[str, list[int]] = {}
        calls: list[scripts.Call[Any]] = []
        spans: list[list[int]] = []
        for i, o in enumerate(outcomes):
            if o.kind == "ack" and o.result_ttl > 0:
                calls.append(scripts.keep(queue_keys(self.prefix, o.queue),
                                          result_keys(self.prefix, o.queue), o))
                spans.append([i])
            elif o.kind == "ack":
                acks.setdefault(o.queue, []).append(i)
            else:
                calls.append(scripts.settle(queue_keys(self.prefix, o.queue), o))
                spans.append([i])
        for queue, idx in acks.items():
            calls.append(scripts.ack(queue_keys(self.prefix, queue), [outcomes[i] for i in idx]))
            spans.append(idx)
        held = [False] * len(outcomes)
        for span, got in zip(spans, await self._run_all(calls), strict=True):
            for i, ok in zip(span, got if isinstance(got, list) else [got], strict=True):
                held[i] = bool(ok)
        return held

    # ---- inspection and recovery ----------------------------------------------------

    async def get(self, queue: str, job_id: str) -> JobRecord | None:
        raw = await self._run(scripts.get(queue_keys(self.prefix, queue), job_id, LEASE_LOST))
        found = records.job(queue, job_id, raw)
        return found if found is not None else await self._kept(queue, job_id)

    # ---- results and cancel ---------------------------------------------------------

    async def _kept(self, queue: str, job_id: str) -> JobRecord | None:
        key = result_keys(self.prefix, queue).result + job_id
        with self._errors():
            raw = await self._conn().main.execute_command(
                "HMGET", key, "env", "attempt", "res", "fin", **{NEVER_DECODE: True})
        return kept_record(queue, job_id, raw)

    async def cancel(self, queue: str, job_id: str) -> CancelOutcome | None:
        done = await self._run(scripts.cancel(queue_keys(self.prefix, queue), job_id, LEASE_LOST))
        if done in ("deleted", "requested", "failed"):
            return cast(CancelOutcome, done)
        return "succeeded" if await self._kept(queue, job_id) is not None else None

    async def wait_result(self, queue: str, job_id: str, timeout: float) -> None:
        """BRPOPLPUSH of the job's done list onto itself: wakes when keep.lua pushes its
        token, or at once when it is there (the token stays for every other waiter)."""
        clients = self._conn()
        if clients.blocking is None:
            clients.blocking = self.settings.client(blocking=True)
        key = result_keys(self.prefix, queue).done + job_id
        with self._errors():
            await clients.blocking.brpoplpush(key, key, max(timeout, 0.01))

    async def delete(self, queue: str, job_id: str) -> bool:
        ok: bool = await self._run(scripts.delete(queue_keys(self.prefix, queue), job_id))
        return ok

    async def counts(self, queue: str) -> QueueCounts:
        pending, delayed, reserved, failed = await self._run(
            scripts.counts(queue_keys(self.prefix, queue), LEASE_LOST))
        return QueueCounts(pending, delayed, reserved, failed)

    async def list_failed(self, queue: str, limit: int = 100, offset: int = 0) -> list[JobRecord]:
        if limit <= 0:
            return []
        raw = await self._run(
            scripts.list_failed(queue_keys(self.prefix, queue), max(offset, 0), limit))
        return records.failed(queue, raw)

    async def list_jobs(
        self, queue: str, state: ListState, limit: int, after: str | None = None
    ) -> list[JobRecord]:
        if limit <= 0:
            return []
        made = float("inf") if after is None else id_time(after)
        cursor = after if after is not None and made != float("inf") else ""
        raw = await self._run(scripts.list_jobs(queue_keys(self.prefix, queue), state, limit,
                                                cursor, 0.0 if cursor == "" else made))
        return records.listed(queue, state, raw)

    async def oldest_due(self, queue: str) -> float | None:
        due: float | None = await self._run(scripts.oldest_due(queue_keys(self.prefix, queue)))
        return due

    async def retry_failed(self, queue: str, job_ids: Sequence[str] | None) -> int:
        k = queue_keys(self.prefix, queue)
        if job_ids is not None:
            ids = list(job_ids)
            calls = [scripts.retry_failed(k, BATCH, ids[i:i + BATCH])
                     for i in range(0, len(ids), BATCH)]
            return sum(await self._run_all(calls)) if calls else 0
        total = 0
        while True:
            moved: int = await self._run(scripts.retry_failed(k, BATCH, ()))
            total += moved
            if moved < BATCH:
                return total

    async def purge_failed(self, queue: str, older_than: float | None = None) -> int:
        k = queue_keys(self.prefix, queue)
        max_score = "+inf" if older_than is None else f"({older_than!r}"
        return await self._batches(scripts.purge_failed(k, max_score, BATCH))

    async def purge(self, queue: str) -> int:
        return await self._batches(scripts.purge(queue_keys(self.prefix, queue), BATCH))

    async def _batches(self, call: scripts.Call[int]) -> int:
        """Repeat a batch-deleting call until a batch comes back short."""
        total = 0
        while True:
            n: int = await self._run(call)
            total += n
            if n < BATCH:
                return total

    # ---- schedules ------------------------------------------------------------------

    async def fire(self, claim: SlotClaim) -> FireResult:
        """Claim a schedule's slot and push its job in one script (lua/fire.lua)."""
        result: FireResult = await self._run(slots.fire(self.prefix, claim))
        return result

    async def slot_state(self, queue: str, schedule: str) -> SlotState | None:
        state: SlotState | None = await self._run(slots.state(self.prefix, queue, schedule))
        return state

    # ---- pause and flow control (lua/_flow.lua) -----------------------------------------

    async def set_paused(self, queue: str, paused: bool) -> bool:
        was: bool = await self._run(scripts.set_paused(
            queue_keys(self.prefix, queue), flow_keys(self.prefix, queue), paused, time.time()))
        return was

    async def paused(self, queue: str) -> bool:
        with self._errors():
            return bool(await self._conn().main.exists(flow_keys(self.prefix, queue).paused))

    async def held(self, queue: str, flow: Flow) -> Hold | None:
        window = flow.rate.window if flow.rate is not None else 0.0
        raw = await self._run(scripts.held(queue_keys(self.prefix, queue),
                                           flow_keys(self.prefix, queue), window))
        if raw is None:
            return None
        paused, running, started, oldest, now = raw
        return hold_of(flow, bool(int(paused)), int(running), int(started),
                       float(oldest) if oldest not in ("", b"") else None, float(now))

    # ---- stats, instances, waking -------------------------------------------------------

    async def add_stats(self, worker: str, delta: StatsDelta) -> None:
        if delta:
            await self._run(scripts.add_stats(worker_keys(self.prefix, worker),
                                              delta.succeeded, delta.failed, delta.retried))

    async def worker_counts(self, worker: str) -> WorkerCounts:
        ok, failed, retried, live = await self._run(
            scripts.worker_counts(worker_keys(self.prefix, worker)))
        return WorkerCounts(ok + failed + retried, ok, failed, retried, live)

    async def heartbeat(self, worker: str, instance: str, ttl: float) -> None:
        await self._run(scripts.heartbeat(worker_keys(self.prefix, worker), instance, ttl))

    async def leave(self, worker: str, instance: str) -> None:
        with self._errors():
            await self._conn().main.zrem(worker_keys(self.prefix, worker).instances, instance)

    async def wait(self, queues: Sequence[str], timeout: float) -> None:
        clients = self._conn()
        if clients.blocking is None:
            clients.blocking = self.settings.client(blocking=True)
        with self._errors():
            await wait(clients.main, clients.blocking, self.prefix, queues, timeout,
                       self.settings.cluster)


def _merge(count: int, spans: Sequence[Sequence[int]], replies: Sequence[list[str]]) -> list[str]:
    """Job ids in the order of the pushed items, from the replies of their chunks."""
    ids = [""] * count
    for span, got in zip(spans, replies, strict=True):
        for i, job_id in zip(span, got, strict=True):
            ids[i] = job_id
    return ids


def _opt(value: Any, kind: type[Any]) -> Any:
    return None if value is None else kind(value)
