"""Every Redis key the driver writes, in one place.

Layout, for a queue ``mail`` under the default prefix ``runa:queue:``. Every key of
one queue carries the hash tag ``{runa:queue:mail}``, so a queue lives in one Redis
Cluster slot (its scripts touch only its own keys) while different queues spread
over the cluster::

    {runa:queue:mail}:ready          ZSET  job id -> available_at (pending and delayed)
    {runa:queue:mail}:reserved       ZSET  job id -> lease_until
    {runa:queue:mail}:failed         ZSET  job id -> failed_at
    {runa:queue:mail}:job:<id>       HASH  env (envelope JSON), attempt, max, enq, avail,
                                           state, token, lease, err, tb, fat, lock, uu
    {runa:queue:mail}:unique:<lock>  STRING  holder's job id (PX unique_for when set);
                                           <lock> is base.unique_lock_key(queue, job, key)
    {runa:queue:mail}:signal         LIST  wake-up tokens for idle workers (trimmed to 8)
    {runa:queue:mail}:paused         STRING  exists while the queue is paused (drivers/flow.py)
    {runa:queue:mail}:starts         ZSET  start token -> time: a rated queue's recent starts
    {runa:queue:mail}:schedule:<name>  HASH  watermark, fired, job: a schedule firing into
                                           this queue (DESIGN §10; fire.lua)
    {runa:queue:mail}:result:<id>    HASH  env, attempt, res (result JSON), fin (finished_at):
                                           a succeeded job kept for its result_ttl (keep.lua;
                                           PEXPIRE result_ttl)
    {runa:queue:mail}:done:<id>      LIST  one token while the result is kept: wakes
                                           registry.result (BRPOPLPUSH onto itself)

A job hash's field ``cx`` holds the token of the run a ``cancel`` asked to stop (cancel.lua;
renew.lua reports it to that run only).

A worker pool ``critical`` keeps its counters under its own tag (a queue and a worker
of the same name share a slot, never a key: the suffixes differ)::

    {runa:queue:@critical}:stats      HASH  succeeded, failed, retried (HINCRBY, all processes)
    {runa:queue:@critical}:instances  ZSET  instance id -> heartbeat expiry (server clock)

All times are epoch seconds from the Redis server's clock (``TIME``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The keys of one queue (see the module docstring)."""

    ready: str
    reserved: str
    failed: str
    signal: str
    #: Prefix of the per-job hashes: ``job + <id>``.
    job: str
    #: Prefix of the unique locks: ``unique + <escaped lock name>``.
    unique: str


@dataclass(frozen=True, slots=True)
class WorkerKeys:
    """The keys of one worker pool."""

    stats: str
    instances: str


@lru_cache(maxsize=1024)
def queue_keys(prefix: str, queue: str) -> QueueKeys:
    """The keys of ``queue`` under ``prefix``."""
    tag = "{" + prefix + queue + "}"
    return QueueKeys(
        ready=f"{tag}:ready",
        reserved=f"{tag}:reserved",
        failed=f"{tag}:failed",
        signal=f"{tag}:signal",
        job=f"{tag}:job:",
        unique=f"{tag}:unique:",
    )


@dataclass(frozen=True, slots=True)
class FlowKeys:
    """The pause and flow-control keys of one queue (see lua/_flow.lua)."""

    paused: str
    starts: str


@lru_cache(maxsize=1024)
def flow_keys(prefix: str, queue: str) -> FlowKeys:
    """The pause and flow-control keys of ``queue`` under ``prefix`` (its hash tag)."""
    tag = "{" + prefix + queue + "}"
    return FlowKeys(paused=f"{tag}:paused", starts=f"{tag}:starts")


@lru_cache(maxsize=256)
def worker_keys(prefix: str, worker: str) -> WorkerKeys:
    """The keys of worker pool ``worker`` under ``prefix``."""
    tag = "{" + prefix + "@" + worker + "}"
    return WorkerKeys(stats=f"{tag}:stats", instances=f"{tag}:instances")


def schedule_key(prefix: str, queue: str, schedule: str) -> str:
    """The slot state of ``schedule``, under its queue's hash tag (fire.lua pushes there)."""
    return "{" + prefix + queue + "}:schedule:" + schedule


@dataclass(frozen=True, slots=True)
class ResultKeys:
    """The key prefixes of a queue's kept results (see the module docstring)."""

    #: ``result + <id>``: the kept job and its result
    result: str
    #: ``done + <id>``: the wake-up list of registry.result
    done: str


@lru_cache(maxsize=1024)
def result_keys(prefix: str, queue: str) -> ResultKeys:
    """The kept-result key prefixes of ``queue`` under ``prefix``."""
    tag = "{" + prefix + queue + "}"
    return ResultKeys(result=f"{tag}:result:", done=f"{tag}:done:")
