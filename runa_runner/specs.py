"""Frozen, compiled settings: what the manifest (or the builder) says, in seconds and callables.

These are the seam between configuration and runtime; the runtime reads only these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from pydantic import TypeAdapter

from .drivers.base import UniqueUntil
from .drivers.flow import Flow, Rate

#: Seed defaults (DESIGN.md §2).
DEFAULT_RETRY = 0
DEFAULT_RETRY_DELAY = 1.0
DEFAULT_RETENTION = 7 * 86400.0
DEFAULT_CONCURRENCY = 1
DEFAULT_POLL_INTERVAL = 0.1
DEFAULT_LEASE = 30.0
DEFAULT_STOP_TIMEOUT = 30.0
DEFAULT_QUEUE = "default"
DEFAULT_WORKER = "default"
MEMORY_DRIVER = "memory"

Backoff = Literal["fixed", "exponential"]
RunMiddleware = Callable[[Any, Callable[[Any], Awaitable[None]]], Awaitable[None]]
PushMiddleware = Callable[[Any, Callable[[Any], Awaitable[str]]], Awaitable[str]]


def frozen_map(data: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(data or {}))


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    driver: str = MEMORY_DRIVER
    workers: tuple[str, ...] = (DEFAULT_WORKER,)
    retry: int = DEFAULT_RETRY
    retry_delay: float = DEFAULT_RETRY_DELAY
    retry_backoff: Backoff = "fixed"
    retry_max_delay: float | None = None
    timeout: float | None = None
    retention: float = DEFAULT_RETENTION
    max_payload_bytes: int | None = None
    meta: Mapping[str, Any] = field(default_factory=frozen_map)
    middleware: tuple[PushMiddleware, ...] = ()
    #: seconds a succeeded job and its result are kept (0: deleted at once)
    result_ttl: float = 0.0
    #: flow control (drivers/flow.py): jobs in flight across every process, starts per window
    max_running: int | None = None
    rate: Rate | None = None

    @property
    def flow(self) -> Flow | None:
        """The limits ``reserve`` takes, or None when the queue has none."""
        flow = Flow(self.max_running, self.rate)
        return flow if flow else None


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    name: str
    concurrency: int = DEFAULT_CONCURRENCY
    poll_interval: float = DEFAULT_POLL_INTERVAL
    lease: float = DEFAULT_LEASE
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    meta: Mapping[str, Any] = field(default_factory=frozen_map)
    middleware: tuple[RunMiddleware, ...] = ()


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job type: its handler (decided once: sync or async, payload type) and defaults.

    ``None`` for retry/retry_delay/timeout means "inherit from the queue".
    """

    name: str
    handler: Callable[..., Any]
    is_async: bool
    payload_type: Any
    adapter: TypeAdapter[Any] | None
    queue: str = DEFAULT_QUEUE
    retry: int | None = None
    retry_delay: float | None = None
    timeout: float | None = None
    unique_until: UniqueUntil = "done"
    unique_for: float | None = None
    meta: Mapping[str, Any] = field(default_factory=frozen_map)
    handler_path: str | None = None
    result_ttl: float | None = None


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """One row of ``list``: fields as in ``list --json``; None where a driver cannot count."""

    name: str
    driver: str
    workers: list[str]
    pending: int | None
    delayed: int | None
    reserved: int | None
    failed: int | None
    #: None where the driver cannot pause (or did not answer)
    paused: bool | None = None


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker pool's row of ``list``, counters summed over its processes."""

    name: str
    queues: list[str]
    concurrency: int
    instances: int | None
    processed: int | None
    succeeded: int | None
    failed: int | None
    retried: int | None


@dataclass(frozen=True)
class JobInfo:
    """One stored job: its fields are those ``job ID --json`` prints (DESIGN.md §7).

    The last failure's traceback and time (``traceback``, ``failed_at``: epoch seconds,
    None unless failed) are properties, not fields: ``job ID`` shows the traceback in its
    text output, and ``failed list --json`` adds both; ``job ID --json`` does not. A
    succeeded job kept for its ``result_ttl`` (state ``succeeded``) has the ``result`` and
    ``finished_at`` properties, which its JSON adds.
    """

    id: str
    queue: str
    job: str
    state: str
    attempts: int
    max_attempts: int
    payload: Any
    meta: dict[str, Any]
    error: str | None
    enqueued_at: float
    available_at: float
    #: why a due pending job waits: "queue paused", "max_running N reached",
    #: "rate N/1s reached" (None when nothing holds it)
    held: str | None = None

    @classmethod
    def with_traceback(cls, traceback: str | None, failed_at: float | None = None,
                       **fields: Any) -> JobInfo:
        info = cls(**fields)
        object.__setattr__(info, "_traceback", traceback)  # set once, at construction
        object.__setattr__(info, "_failed_at", failed_at)
        return info

    @classmethod
    def kept(cls, result: Any, finished_at: float | None, **fields: Any) -> JobInfo:
        """A succeeded job kept for its ``result_ttl``: ``result`` and ``finished_at`` are
        properties, and ``to_dict`` (``job ID --json``) adds them."""
        info = cls(**fields)
        object.__setattr__(info, "_kept", (result, finished_at))  # set once, at construction
        return info

    @property
    def result(self) -> Any:
        """A kept succeeded job's return value (None otherwise)."""
        return self.__dict__.get("_kept", (None, None))[0]

    @property
    def finished_at(self) -> float | None:
        """When a kept succeeded job finished (epoch seconds; None otherwise)."""
        kept: tuple[Any, float | None] = self.__dict__.get("_kept", (None, None))
        return kept[1]

    @property
    def failed_at(self) -> float | None:
        when: float | None = self.__dict__.get("_failed_at")
        return when

    @property
    def traceback(self) -> str | None:
        tb: str | None = self.__dict__.get("_traceback")
        return tb

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "queue": self.queue,
            "job": self.job,
            "state": self.state,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "payload": self.payload,
            "meta": self.meta,
            "error": self.error,
            "enqueued_at": self.enqueued_at,
            "available_at": self.available_at,
            # only while held: a job nothing holds keeps the fields of DESIGN §7b
            **({} if self.held is None else {"held": self.held}),
        }
        if self.state == "succeeded":
            out["result"] = self.result
            out["finished_at"] = self.finished_at
        return out
