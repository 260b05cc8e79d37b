"""The driver protocol: the narrow seam between job rules and storage.

All domain rules (option resolution, meta merge, retry counting, backoff,
timeouts) live above this module, in the registry and the worker. A driver
only stores envelopes and moves them between states atomically:

    pending --reserve--> reserved --ack--> (deleted)
       ^                    |  \\--release(delay)--> delayed/pending
    delayed (due) ----------+   \\--fail--> failed --retry_failed--> pending

Rules every driver keeps (the contract suite checks them):

* ``reserve`` raises ``attempt`` by one and hands out a fresh token; the job is
  invisible to other reservers until ``lease_until``.
* ``renew``/``ack``/``release``/``fail`` act only when the token still holds the
  lease, and return False otherwise (never raise for a lost lease).
* A reserved job whose lease lapsed becomes reservable again, unless its
  ``attempt`` already reached ``max_retries + 1``: then it moves to failed with
  the error :data:`LEASE_LOST` (so a job that kills its worker cannot loop).
* Unique locks (queue + job name + key, parts escaped) hold while the job is
  pending, delayed, reserved or waiting for a retry; they are released on ack,
  on fail, on delete, when ``unique_for`` runs out, and at reservation when
  ``unique_until == "start"``. A push that hits a held lock returns the holder's id.
* Times that order jobs come from one clock (the server's, where there is one).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from ..job import Envelope
from .flow import Flow

#: Error stored on a job whose lease lapsed on its last allowed attempt.
LEASE_LOST = "lease lost: the worker stopped renewing (crashed or killed) on the last attempt"

JobState = Literal["pending", "delayed", "reserved", "failed", "succeeded"]
#: The states ``list_jobs`` pages through (a reserved job is a worker's, briefly).
ListState = Literal["pending", "delayed", "failed"]
LIST_STATES: tuple[ListState, ...] = ("pending", "delayed", "failed")
UniqueUntil = Literal["done", "start"]


class Capability(enum.Enum):
    """What a driver can do; ``validate`` checks a manifest's needs against these."""

    DELAY = "delay"
    UNIQUE = "unique"
    RENEW = "renew"
    COUNT = "count"
    LIST = "list"  #: job lookup by id and listing of failed jobs
    FAILED_STORE = "failed_store"
    DELETE = "delete"
    PURGE = "purge"
    STATS = "stats"
    INSTANCES = "instances"
    CROSS_PROCESS = "cross_process"  #: another process can push to / read it
    WAKE = "wake"  #: can wake an idle worker when work arrives (no polling)
    #: claims a schedule's slot and pushes its job in one atomic step (:class:`SlotStore`)
    SCHEDULES = "schedules"
    #: ``list_jobs`` (a queue's jobs by state, newest first, paged by id) and ``oldest_due``
    LIST_JOBS = "list_jobs"
    #: a reservation is a delivery held by a live consumer, not a lease: nothing lapses,
    #: but the server closes a consumer that holds one past the ``consumer_timeout`` key
    CONSUMER_TIMEOUT = "consumer_timeout"

    # Issue 18, results and cancel (a :class:`ResultStore`):
    #: keeps a succeeded job and its handler's return value for ``result_ttl``
    RESULTS = "results"
    #: deletes a pending job, or asks the run holding a reserved one to stop (``cancel``)
    CANCEL = "cancel"
    # -- pause and flow control (drivers/flow.py) --
    #: ``set_paused``/``paused``/``held`` (:class:`~runa_runner.drivers.flow.FlowStore`);
    #: ``reserve`` hands out nothing from a paused queue
    PAUSE = "pause"
    #: ``reserve(..., flow=...)`` keeps ``max_running`` and ``rate`` across processes
    FLOW_CONTROL = "flow_control"


#: What a lease-based store can offer (CONSUMER_TIMEOUT describes a broker, not a store).
ALL_CAPABILITIES = frozenset(Capability) - {Capability.CONSUMER_TIMEOUT}


@dataclass(frozen=True, slots=True)
class PushItem:
    """One job to enqueue. The driver stamps ``enqueued_at``/``available_at`` from its clock."""

    envelope: Envelope
    delay: float = 0.0
    unique_until: UniqueUntil = "done"
    unique_for: float | None = None
    #: ``envelope.to_json()`` when the pusher already built it (it shares the encoded
    #: payload it validated with), for drivers that store the envelope as pushed.
    wire: str | None = None


@dataclass(frozen=True, slots=True)
class Reserved:
    """A job reserved by one worker: ``token`` fences every later call about it."""

    envelope: Envelope
    token: str
    lease_until: float


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A stored job as ``job_info`` and ``failed list`` show it."""

    envelope: Envelope
    state: JobState
    error: str | None = None
    traceback: str | None = None
    failed_at: float | None = None
    #: a kept succeeded job's (state "succeeded") decoded return value and finish time
    result: Any = None
    finished_at: float | None = None


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """Jobs per state; None where the driver cannot count (never a guess)."""

    pending: int | None
    delayed: int | None
    reserved: int | None
    failed: int | None


@dataclass(frozen=True, slots=True)
class StatsDelta:
    """Outcome counters a worker adds after running jobs."""

    succeeded: int = 0
    failed: int = 0
    retried: int = 0

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed + self.retried

    def __bool__(self) -> bool:
        return self.processed > 0


@dataclass(frozen=True, slots=True)
class WorkerCounts:
    """A worker pool's counters, summed over all its processes."""

    processed: int | None
    succeeded: int | None
    failed: int | None
    retried: int | None
    instances: int | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one reserved job ended, for batched settlement (:meth:`Driver.settle`)."""

    queue: str
    job_id: str
    token: str
    kind: Literal["ack", "release", "fail"]
    delay: float = 0.0
    error: str | None = None
    traceback: str | None = None
    give_back_attempt: bool = False
    #: an ack with ``result_ttl`` > 0 keeps the job and ``result`` (JSON text) that long
    result: str | None = None
    result_ttl: float = 0.0


@dataclass(frozen=True, slots=True)
class DriverInfo:
    """How a driver describes itself in messages (URLs with passwords redacted)."""

    type: str
    target: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Driver(Protocol):
    """Storage for jobs. Every method is a coroutine; ``open`` is called before use.

    Unsupported operations raise :class:`runa_runner.errors.Unsupported`. A driver may
    also be a :class:`BlockingPush` (``push`` for sync code in the caller's thread, so
    ``push_sync`` needs no event loop).
    Client-library exceptions never escape: they are wrapped in
    :class:`runa_runner.errors.DriverError` (``DriverUnavailable`` when the
    server cannot be reached), with the redacted target in the message.
    """

    type_name: str
    capabilities: frozenset[Capability]

    def describe(self) -> DriverInfo: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def push(self, items: Sequence[PushItem]) -> list[str]:
        """Enqueue all items (one batch); return each job's id (the holder's, on a unique hit)."""
        ...

    async def reserve(self, queue: str, count: int, lease: float,
                      flow: Flow | None = None) -> list[Reserved]:
        """Reserve up to ``count`` due jobs, oldest due first, for ``lease`` seconds.

        Nothing from a paused queue; with ``flow``, no more than its limits allow
        (:attr:`Capability.FLOW_CONTROL`).
        """
        ...

    async def renew(self, queue: str, job_id: str, token: str,
                    lease: float) -> bool | Literal["cancelled"]:
        """Extend a held lease: False when lost; :data:`CANCELLED` (the lease extended)
        when a ``cancel`` asked this run to stop (drivers with :attr:`Capability.CANCEL`)."""
        ...

    async def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Apply ack/release/fail outcomes (batched); True where the token still held.

        ``release`` makes the job available after ``delay`` seconds, keeping its
        attempt count unless ``give_back_attempt`` (a stop, not a failure).
        ``fail`` moves the job to the failed store with ``error``/``traceback``.
        """
        ...

    async def get(self, queue: str, job_id: str) -> JobRecord | None: ...

    async def delete(self, queue: str, job_id: str) -> bool:
        """Delete a pending, delayed or failed job (and its unique lock)."""
        ...

    async def counts(self, queue: str) -> QueueCounts: ...

    async def list_failed(self, queue: str, limit: int = 100, offset: int = 0) -> list[JobRecord]:
        """Failed jobs, oldest failure first."""
        ...

    async def list_jobs(
        self, queue: str, state: ListState, limit: int, after: str | None = None
    ) -> list[JobRecord]:
        """Up to ``limit`` jobs in ``state``, newest first, from an index (never a scan).

        Newest is the latest ``available_at`` (pending, delayed) or ``failed_at`` (failed),
        ties by id. ``after`` is the last id of the previous page; when that job left the
        state meanwhile, the page continues from the time its id was made. Needs
        :attr:`Capability.LIST_JOBS`.
        """
        ...

    async def oldest_due(self, queue: str) -> float | None:
        """``available_at`` of the oldest job due now (pending), or None when none is."""
        ...

    async def retry_failed(self, queue: str, job_ids: Sequence[str] | None) -> int:
        """Move failed jobs (all when ``job_ids`` is None) back to pending, attempts reset."""
        ...

    async def purge_failed(self, queue: str, older_than: float | None = None) -> int:
        """Delete failed jobs that failed before epoch ``older_than`` (all when None)."""
        ...

    async def purge(self, queue: str) -> int:
        """Delete every job of the queue in every state; return how many."""
        ...

    async def add_stats(self, worker: str, delta: StatsDelta) -> None: ...

    async def worker_counts(self, worker: str) -> WorkerCounts: ...

    async def heartbeat(self, worker: str, instance: str, ttl: float) -> None:
        """Mark ``instance`` of ``worker`` alive for ``ttl`` seconds."""
        ...

    async def leave(self, worker: str, instance: str) -> None:
        """Remove ``instance`` at once (clean stop)."""
        ...

    async def wait(self, queues: Sequence[str], timeout: float) -> None:
        """Return when work may be available on one of ``queues`` or after ``timeout``.

        Drivers that cannot be woken simply sleep ``timeout`` (the poll interval).
        """
        ...


@dataclass(frozen=True, slots=True)
class SlotState:
    """What a driver keeps per schedule: the slot watermark and the last fire.

    ``watermark`` is the newest slot (epoch seconds) claimed, fired or not: no slot at
    or before it fires again. ``fired``/``job_id`` are the last slot that pushed a job
    and that job's id (None before the first fire).
    """

    watermark: float
    fired: float | None = None
    job_id: str | None = None


FireOutcome = Literal["fired", "skipped", "advanced", "taken"]


@dataclass(frozen=True, slots=True)
class SlotClaim:
    """One claim of a schedule's slot, for :meth:`SlotStore.fire`.

    ``item`` is the job to push when the claim wins (None: only move the watermark,
    for a slot given up or a schedule seen for the first time). With ``skip_overlap``
    a winning claim pushes nothing while the last fired job is still stored as
    pending, delayed, reserved or waiting for a retry (any state but failed).
    """

    queue: str
    schedule: str
    slot: float
    item: PushItem | None = None
    skip_overlap: bool = False


@dataclass(frozen=True, slots=True)
class FireResult:
    """What :meth:`SlotStore.fire` did: ``fired`` (claimed and pushed ``job_id``),
    ``skipped`` (claimed; the previous job still runs), ``advanced`` (claimed, nothing
    to push), ``taken`` (another scheduler claimed this slot or a later one first).
    ``previous`` is the watermark before the claim (None for a new schedule)."""

    outcome: FireOutcome
    job_id: str | None = None
    previous: float | None = None


@runtime_checkable
class SlotStore(Protocol):
    """The schedule operations of a driver with :attr:`Capability.SCHEDULES`.

    ``fire`` is one atomic step (memory: no await between check and push; SQLite and
    PostgreSQL: one transaction, e.g. ``UPDATE schedule_slots SET ... WHERE watermark <
    slot`` then the job's INSERT; Redis: one Lua script): compare the stored watermark
    with ``claim.slot`` (no state counts as older than any slot), and only when it is
    older set it to the slot, check overlap, push ``claim.item`` exactly as ``push``
    would, and record ``fired``/``job_id``. However many schedulers call it for the
    same slot, at most one gets ``fired``; a slot at or before the watermark is
    ``taken`` and changes nothing. State is keyed by (queue, schedule name).
    """

    async def fire(self, claim: SlotClaim) -> FireResult: ...

    async def slot_state(self, queue: str, schedule: str) -> SlotState | None:
        """The schedule's stored state, or None before its first claim.

        Raises:
            CorruptRecord: the stored state cannot be read (never guessed).
        """
        ...
#: What ``renew`` returns for a run whose job was cancelled (its lease still held).
CANCELLED: Literal["cancelled"] = "cancelled"

#: What ``cancel`` did: deleted a pending/delayed job, asked a reserved one's run to stop,
#: or nothing, since the job already ended (failed, or kept as succeeded).
CancelOutcome = Literal["deleted", "requested", "failed", "succeeded"]


@runtime_checkable
class ResultStore(Protocol):
    """Results and cancel (:attr:`Capability.RESULTS`, :attr:`Capability.CANCEL`).

    A settled ack with ``result_ttl`` > 0 keeps the job, its result (JSON text as the
    worker encoded it) and ``finished_at`` for ``result_ttl`` seconds: ``get`` then
    returns it with state ``succeeded`` (an expired one is None, removed lazily and in
    bounded batches). ``cancel`` records a request against the reservation's token, so
    only the run holding the job when asked learns it at its ``renew``.
    """

    async def cancel(self, queue: str, job_id: str) -> CancelOutcome | None:
        """Delete a pending/delayed job (and its unique lock) or ask a reserved one's run
        to stop; None when the job is unknown."""
        ...

    async def wait_result(self, queue: str, job_id: str, timeout: float) -> None:
        """Return when ``job_id`` may have settled (a wake-up where the driver has one)
        or after ``timeout`` seconds; the caller looks again either way."""
        ...


@runtime_checkable
class BlockingPush(Protocol):
    """A driver that can push from sync code without an event loop (checked once, at freeze)."""

    def push_blocking(self, items: Sequence[PushItem]) -> list[str]: ...


#: A manifest key's kind; the schema's block for the type must say the same.
ConfigKind = Literal["string", "duration", "integer", "boolean"]


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """One manifest key of a driver type; durations reach the factory in seconds."""

    name: str
    kind: ConfigKind
    #: The value used when the key is absent (None: the client's own default).
    default: Any = None


#: Builds (never connects) a driver from its manifest keys and the manifest's folder.
DriverFactory = Callable[[Mapping[str, Any], Path], Driver]


@dataclass(frozen=True, slots=True)
class DriverType:
    """All the manifest layer knows about a driver type before an instance exists.

    Each driver package declares one (``DRIVER_TYPE``); ``drivers/__init__.py`` maps
    type names to them, and a test holds the manifest schema's per-type blocks to
    ``config``.
    """

    name: str
    capabilities: frozenset[Capability]
    config: tuple[ConfigKey, ...]
    factory: DriverFactory

    def key(self, name: str) -> ConfigKey | None:
        return next((k for k in self.config if k.name == name), None)

    @property
    def durations(self) -> frozenset[str]:
        """The keys holding durations (converted to seconds before ``factory`` sees them)."""
        return frozenset(k.name for k in self.config if k.kind == "duration")


async def wait_any(events: Sequence[asyncio.Event], timeout: float) -> None:
    """Return when one of ``events`` is set or after ``timeout`` seconds (drivers' ``wait``)."""
    waiters = [asyncio.ensure_future(ev.wait()) for ev in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


def id_time(job_id: str) -> float:
    """When a job id was made (its first 12 hex digits are epoch ms): where ``list_jobs``
    resumes after a job that left the listed state. Not an id: +inf (the first page)."""
    head = job_id[:12]
    if len(head) < 12 or any(c not in "0123456789abcdefABCDEF" for c in head):
        return float("inf")
    return int(head, 16) / 1000


def unique_lock_key(queue: str, job: str, key: str) -> str:
    """The unique lock's identity; parts are escaped so ``:`` in names cannot collide."""

    def esc(part: str) -> str:
        return part.replace("\\", "\\\\").replace(":", "\\:")

    return f"{esc(queue)}:{esc(job)}:{esc(key)}"
