"""The Lua scripts: loaded once from ``lua/*.lua``, one typed wrapper each.

A wrapper builds a :class:`Call` (script, keys, arguments, reply parser); :func:`run`
executes one and :func:`run_all` pipelines many in one round trip (each still one
atomic script). Scripts are sent by SHA (``EVALSHA``); when the server answers
NOSCRIPT (restart, failover, ``SCRIPT FLUSH``) the call is repeated with ``EVAL``,
which also puts the script back into the server's cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Generic, Literal, TypeVar

from redis.asyncio import Redis
from redis.client import NEVER_DECODE
from redis.exceptions import NoScriptError, ResponseError

from ..base import CANCELLED, Outcome, PushItem, unique_lock_key
from ..flow import Flow
from .connection import Client, SyncClient
from .keys import FlowKeys, QueueKeys, ResultKeys, WorkerKeys

T = TypeVar("T")

#: Envelope JSON as Envelope.to_json writes it, without building an encoder per job.
_to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

#: Marker in a script's header: prepend the shared helpers of ``lua/_lib.lua``.
USES_LIB = "uses _lib.lua"
#: Marker for the pause and flow-control helpers of ``lua/_flow.lua`` (after _lib.lua).
USES_FLOW = "_flow.lua"


@dataclass(frozen=True, slots=True)
class Lua:
    """One script's source (helpers included) and its SHA1."""

    name: str
    source: str
    sha: str


def _load(name: str) -> Lua:
    folder = files(__package__) / "lua"
    text = (folder / f"{name}.lua").read_text(encoding="utf-8")
    header = text.split("-- KEYS", 1)[0]
    if USES_FLOW in header:
        text = (folder / "_flow.lua").read_text(encoding="utf-8") + "\n" + text
    if USES_LIB in header:
        text = (folder / "_lib.lua").read_text(encoding="utf-8") + "\n" + text
    return Lua(name, text, hashlib.sha1(text.encode()).hexdigest())


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One script invocation, ready to run alone or in a pipeline."""

    lua: Lua
    keys: tuple[str, ...]
    args: tuple[str | bytes | int | float, ...]
    parse: Callable[[Any], T]
    #: Reply as bytes, undecoded: it holds stored records, which may not be UTF-8
    #: (records.py decodes them, one at a time, so one bad record stops nothing).
    raw: bool = False

    @property
    def options(self) -> dict[str, Any]:
        """redis-py's per-command options: no decoding for a ``raw`` call."""
        return {NEVER_DECODE: True} if self.raw else {}


async def run(client: Client, call: Call[T]) -> T:
    """Run one script call (EVALSHA, then EVAL on NOSCRIPT)."""
    n = len(call.keys)
    try:
        raw = await client.execute_command(
            "EVALSHA", call.lua.sha, n, *call.keys, *call.args, **call.options)
    except NoScriptError:
        raw = await client.execute_command(
            "EVAL", call.lua.source, n, *call.keys, *call.args, **call.options)
    return call.parse(raw)


def run_blocking(client: SyncClient, call: Call[T]) -> T:
    """:func:`run` for a sync client (pushes from sync code)."""
    n = len(call.keys)
    try:
        raw = client.evalsha(call.lua.sha, n, *call.keys, *call.args)
    except NoScriptError:
        raw = client.eval(call.lua.source, n, *call.keys, *call.args)
    return call.parse(raw)


async def run_all(client: Client, calls: Sequence[Call[T]]) -> list[T]:
    """Run many script calls in one pipelined round trip; replies in order.

    Calls that met NOSCRIPT (and only those: the others already ran) are sent
    again with EVAL in a second round trip.
    """
    raw = await _pipeline(client, calls, by_sha=True)
    redo = [i for i, r in enumerate(raw) if isinstance(r, NoScriptError)]
    if redo:
        again = await _pipeline(client, [calls[i] for i in redo], by_sha=False)
        for i, r in zip(redo, again, strict=True):
            raw[i] = r
    for r in raw:
        if isinstance(r, Exception):
            raise r
    return [c.parse(r) for c, r in zip(calls, raw, strict=True)]


async def stream(client: Redis, calls: Iterable[Call[T]]) -> list[T]:
    """Run many script calls on one connection, each sent before the previous reply is
    read: the server runs one call while the next is built (``calls`` may be lazy).

    About twice the rate of pipelined rounds for bulk pushes, where building a call's
    arguments costs as much as running it. Replies come back in order; calls that met
    NOSCRIPT did not run and go again through :func:`run_all`, which reloads the
    script; any other error reply is raised once every reply is read.
    """
    pool = client.connection_pool
    conn = await pool.get_connection()  # type: ignore[no-untyped-call]
    sent: list[Call[T]] = []
    raw: list[Any] = []
    try:
        for call in calls:
            await conn.send_packed_command(conn.pack_command(
                "EVALSHA", call.lua.sha, len(call.keys), *call.keys, *call.args),
                check_health=False)
            sent.append(call)
            if len(sent) - len(raw) > 1:
                raw.append(await _reply(conn))
        while len(raw) < len(sent):
            raw.append(await _reply(conn))
    except BaseException:
        # Replies may still be in flight: the connection's state is unknown.
        await conn.disconnect()
        raise
    finally:
        await pool.release(conn)
    for r in raw:
        if isinstance(r, ResponseError) and not isinstance(r, NoScriptError):
            raise r
    out: list[Any] = [None if isinstance(r, NoScriptError) else c.parse(r)
                      for c, r in zip(sent, raw, strict=True)]
    redo = [i for i, r in enumerate(raw) if isinstance(r, NoScriptError)]
    if redo:  # the server lost its scripts (restart, SCRIPT FLUSH): run_all reloads them
        for i, r in zip(redo, await run_all(client, [sent[i] for i in redo]), strict=True):
            out[i] = r
    return out


async def _reply(conn: Any) -> Any:
    """One reply; an error reply is returned, not raised (the rest are still to read)."""
    try:
        return await conn.read_response()
    except ResponseError as exc:
        return exc


async def _pipeline(client: Client, calls: Sequence[Call[Any]], *, by_sha: bool) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for c in calls:
        # execute_command: redis-py's cluster pipeline refuses .evalsha() for fear of
        # NOSCRIPT on some node; run_all handles NOSCRIPT itself.
        if by_sha:
            pipe.execute_command("EVALSHA", c.lua.sha, len(c.keys), *c.keys, *c.args,
                                 **c.options)
        else:
            pipe.execute_command("EVAL", c.lua.source, len(c.keys), *c.keys, *c.args,
                                 **c.options)
    replies: list[Any] = await pipe.execute(raise_on_error=False)
    return replies


def _flag(raw: Any) -> bool:
    return bool(raw)


def _ints(raw: Any) -> list[int]:
    return [int(x) for x in raw]


def _int(raw: Any) -> int:
    return int(raw)


def _same(raw: Any) -> Any:
    return raw


# ---- one wrapper per script ----------------------------------------------------------

PUSH = _load("push")
RESERVE = _load("reserve")
RENEW = _load("renew")
ACK = _load("ack")
RELEASE = _load("release")
FAIL = _load("fail")
GET = _load("get")
DELETE = _load("delete")
COUNTS = _load("counts")
LIST_FAILED = _load("list_failed")
RETRY_FAILED = _load("retry_failed")
PURGE_FAILED = _load("purge_failed")
PURGE = _load("purge")
NEXT_DUE = _load("next_due")
HEARTBEAT = _load("heartbeat")
WORKER_COUNTS = _load("worker_counts")
ADD_STATS = _load("add_stats")
LIST_JOBS = _load("list_jobs")
SET_PAUSED = _load("set_paused")
HELD = _load("held")
OLDEST_DUE = _load("oldest_due")
KEEP = _load("keep")
CANCEL = _load("cancel")


def push(k: QueueKeys, items: Sequence[PushItem]) -> Call[list[str]]:
    """Enqueue ``items`` (all of one queue); reply: each job's id (or its lock holder's).

    One argument per job (see push.lua): fewer arguments is most of bulk push speed.
    """
    return Call(PUSH, (k.ready, k.signal, k.job, k.unique),
                tuple(_push_arg(it) for it in items), list)


def _push_arg(it: PushItem) -> str:
    env = it.envelope
    delay = "0" if it.delay <= 0 else repr(float(it.delay))
    ttl = "-" if it.unique_for is None else str(max(1, round(it.unique_for * 1000)))
    lock = "" if env.unique is None else unique_lock_key(env.queue, env.job, env.unique)
    wire = it.wire if it.wire is not None else _to_json(env.to_dict())
    return (f"{wire}\n{env.id} {delay} {env.attempt} {env.max_retries + 1} "
            f"{ttl} {it.unique_until} {lock}")


def reserve(k: QueueKeys, count: int, lease: float, token_prefix: str,
            lease_lost: str, f: FlowKeys, flow: Flow | None = None) -> Call[list[Any]]:
    """Reserve up to ``count`` due jobs within ``flow``'s limits (none from a paused
    queue); reply (bytes) as documented in reserve.lua."""
    rate = flow.rate if flow else None
    return Call(RESERVE, (k.ready, k.reserved, k.failed, k.job, f.paused, f.starts),
                (count, repr(float(lease)), token_prefix, lease_lost,
                 (flow.max_running if flow else None) or 0,
                 0 if rate is None else rate.limit, 0 if rate is None else rate.window),
                list, raw=True)


def renew(k: QueueKeys, job_id: str, token: str,
          lease: float) -> Call[bool | Literal["cancelled"]]:
    """Extend a held lease; False when the token no longer holds it, CANCELLED when it
    holds and a cancel asked this run to stop."""
    return Call(RENEW, (k.reserved, k.job), (job_id, token, repr(float(lease))), _renewal)


def _renewal(raw: Any) -> bool | Literal["cancelled"]:
    return CANCELLED if int(raw) == 2 else bool(int(raw))


def keep(k: QueueKeys, r: ResultKeys, o: Outcome) -> Call[bool]:
    """Ack a held job keeping its result for ``o.result_ttl``; False when the token lost."""
    ttl = max(1, round(o.result_ttl * 1000))
    return Call(KEEP, (k.reserved, k.job, r.result, r.done),
                (o.job_id, o.token, ttl, o.result or "null"), _flag)


def cancel(k: QueueKeys, job_id: str, lease_lost: str) -> Call[str | None]:
    """Delete a waiting job or ask a reserved one's run to stop; reply as in cancel.lua."""
    return Call(CANCEL, (k.ready, k.reserved, k.failed, k.job), (job_id, lease_lost),
                _maybe_text)


def _maybe_text(raw: Any) -> str | None:
    return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)


def ack(k: QueueKeys, outcomes: Sequence[Outcome]) -> Call[list[bool]]:
    """One call acking many jobs of one queue; per job, False when its token lost the lease."""
    args: list[str] = []
    for o in outcomes:
        args += (o.job_id, o.token)
    return Call(ACK, (k.reserved, k.job), tuple(args), _flags)


def _flags(raw: Any) -> list[bool]:
    return [bool(int(x)) for x in raw]


def settle(k: QueueKeys, o: Outcome) -> Call[bool]:
    """The release or fail call for one outcome; False when the token lost the lease."""
    if o.kind == "ack":
        return Call(ACK, (k.reserved, k.job), (o.job_id, o.token), _first_flag)
    if o.kind == "release":
        return Call(RELEASE, (k.ready, k.reserved, k.signal, k.job),
                    (o.job_id, o.token, repr(float(o.delay)),
                     "1" if o.give_back_attempt else "0", o.error or ""), _flag)
    return fail(k, o.job_id, o.token, o.error or "failed", o.traceback or "")


def fail(k: QueueKeys, job_id: str | bytes, token: str, error: str, tb: str = "") -> Call[bool]:
    """Move a held job to failed; ``job_id`` as stored (bytes when it is not UTF-8)."""
    return Call(FAIL, (k.reserved, k.failed, k.job), (job_id, token, error, tb), _flag)


def _first_flag(raw: Any) -> bool:
    return bool(int(raw[0]))


def get(k: QueueKeys, job_id: str, lease_lost: str) -> Call[Any]:
    """One job's stored fields (bytes), or None; reply as documented in get.lua."""
    return Call(GET, (k.ready, k.reserved, k.failed, k.job), (job_id, lease_lost), _same,
                raw=True)


def delete(k: QueueKeys, job_id: str) -> Call[bool]:
    """Delete a job that is not reserved; False when unknown or reserved."""
    return Call(DELETE, (k.ready, k.failed, k.job), (job_id,), _flag)


def counts(k: QueueKeys, lease_lost: str) -> Call[list[int]]:
    """pending, delayed, reserved, failed."""
    return Call(COUNTS, (k.ready, k.reserved, k.failed, k.job), (lease_lost,), _ints)


def list_failed(k: QueueKeys, offset: int, limit: int) -> Call[list[Any]]:
    """A page of failed jobs, oldest failure first; reply (bytes) as in list_failed.lua."""
    return Call(LIST_FAILED, (k.failed, k.job), (offset, limit), list, raw=True)


def list_jobs(k: QueueKeys, state: str, limit: int, after: str, made: float) -> Call[list[Any]]:
    """A page of ``state`` newest first after the cursor ``after``; reply (bytes) as in
    list_jobs.lua."""
    zset = k.failed if state == "failed" else k.ready
    return Call(LIST_JOBS, (zset, k.job), (state, limit, after, repr(made)), list, raw=True)


def oldest_due(k: QueueKeys) -> Call[float | None]:
    """available_at of the oldest due job, or None."""
    return Call(OLDEST_DUE, (k.ready,), (), _maybe_float)


def _maybe_float(raw: Any) -> float | None:
    return None if raw is None else float(raw)


def retry_failed(k: QueueKeys, batch: int, job_ids: Sequence[str]) -> Call[int]:
    """Failed jobs back to pending (``job_ids``, or the oldest ``batch`` when empty)."""
    return Call(RETRY_FAILED, (k.ready, k.failed, k.signal, k.job), (batch, *job_ids), _int)


def purge_failed(k: QueueKeys, max_score: str, batch: int) -> Call[int]:
    """Delete up to ``batch`` failed jobs scored up to ``max_score``."""
    return Call(PURGE_FAILED, (k.failed, k.job), (max_score, batch), _int)


def purge(k: QueueKeys, batch: int) -> Call[int]:
    """Delete up to ``batch`` jobs of the queue in any state."""
    return Call(PURGE, (k.ready, k.reserved, k.failed, k.signal, k.job), (batch,), _int)


def next_due(k: QueueKeys, f: FlowKeys) -> Call[float | None]:
    """Seconds until a job is due (never, while paused) or a lease lapses; None when
    the queue is empty."""
    return Call(NEXT_DUE, (k.ready, k.reserved, f.paused), (),
                lambda raw: None if raw is None else float(raw))


def heartbeat(w: WorkerKeys, instance: str, ttl: float) -> Call[Any]:
    """Mark ``instance`` alive for ``ttl`` seconds."""
    return Call(HEARTBEAT, (w.instances,), (instance, repr(float(ttl))), _same)


def worker_counts(w: WorkerKeys) -> Call[list[int]]:
    """succeeded, failed, retried, live instances."""
    return Call(WORKER_COUNTS, (w.stats, w.instances), (), _ints)


def add_stats(w: WorkerKeys, succeeded: int, failed: int, retried: int) -> Call[Any]:
    """Add outcome counters."""
    return Call(ADD_STATS, (w.stats,), (succeeded, failed, retried), _same)


def set_paused(k: QueueKeys, f: FlowKeys, paused: bool, now: float) -> Call[bool]:
    """Pause or resume (a resume signals idle workers); whether it was paused before."""
    return Call(SET_PAUSED, (f.paused, k.signal), ("1" if paused else "0", repr(now)), _flag)


def held(k: QueueKeys, f: FlowKeys, window: float) -> Call[Any]:
    """What holds the due jobs back; reply as documented in held.lua."""
    return Call(HELD, (k.ready, k.reserved, f.paused, f.starts), (repr(float(window)),), _same)
