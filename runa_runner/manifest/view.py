"""A tolerant, defaulted reading of a manifest body, shared by the checks, compile and explain.

It never raises on a malformed body: what the schema rejects reads as absent,
so the reference checks can run in the same pass as the schema check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import specs
from ..drivers.base import Capability, DriverType
from ..durations import DurationError, parse_duration

#: Defaults of the effective settings, as the manifest spells them (for --explain).
QUEUE_DEFAULTS: dict[str, Any] = {
    "retry": specs.DEFAULT_RETRY, "retry_delay": specs.DEFAULT_RETRY_DELAY,
    "retry_backoff": "fixed", "retry_max_delay": None, "timeout": None,
    "retention": specs.DEFAULT_RETENTION, "max_payload_bytes": None,
}
WORKER_DEFAULTS: dict[str, Any] = {
    "concurrency": specs.DEFAULT_CONCURRENCY, "poll_interval": specs.DEFAULT_POLL_INTERVAL,
    "lease": specs.DEFAULT_LEASE, "stop_timeout": specs.DEFAULT_STOP_TIMEOUT,
}
#: The driver a manifest that declares none gets (DESIGN.md §2): durable and shared across
#: processes, so ``push`` and ``work`` meet; its path is relative to the manifest's folder.
LOCAL_DRIVER = "local"
LOCAL_DRIVER_ENTRY: dict[str, Any] = {"type": "sqlite", "path": ".runa/queue.db"}


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def seconds(value: Any) -> float | None:
    """A duration in seconds, or None when absent or invalid (the schema reports it)."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except DurationError:
        return None


#: Beyond every integer setting's range (limits.py), yet exact as a float.
_WHOLE_BOUND = 2**53


def whole(value: Any) -> int | None:
    """An integer setting, or None when absent or invalid (the schema reports it)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not -_WHOLE_BOUND <= value <= _WHOLE_BOUND:  # also NaN; float(10**400) would raise
        return None
    return int(value) if float(value).is_integer() else None


def driver_config(kind: DriverType, entry: Mapping[str, Any]) -> dict[str, Any]:
    """What the type's factory receives: the driver's keys minus type and x-*, its
    duration keys in seconds."""
    config = {k: v for k, v in entry.items() if k != "type" and not k.startswith("x-")}
    for key in kind.durations & set(config):
        config[key] = seconds(config[key])
    return config


class View:
    """Declared names with the seed's implicit ones added."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.body = body
        #: driver type name -> its loaded type (None: unloadable); loading an unknown name
        #: scans the installed entry points, so each name is loaded once per view
        self._types: dict[str, DriverType | None] = {}
        declared = {k: mapping(v) for k, v in mapping(body.get("drivers")).items()}
        implicit = specs.MEMORY_DRIVER
        if not declared:
            declared = {LOCAL_DRIVER: dict(LOCAL_DRIVER_ENTRY)}
        if len(declared) == 1:
            implicit = next(iter(declared))  # the only declared driver (or `local`)
        self.drivers = declared
        self.drivers.setdefault(specs.MEMORY_DRIVER, {"type": "memory"})
        self.declared_queues = mapping(body.get("queues"))
        self.declared_workers = mapping(body.get("workers"))
        self.queues = {k: mapping(v) for k, v in self.declared_queues.items()} or {
            specs.DEFAULT_QUEUE: {}
        }
        self.workers = {k: mapping(v) for k, v in self.declared_workers.items()} or {
            specs.DEFAULT_WORKER: {}
        }
        self.jobs = {k: mapping(v) for k, v in mapping(body.get("jobs")).items()}
        self.schedules = {k: mapping(v) for k, v in mapping(body.get("schedules")).items()}
        default = body.get("default_driver")
        self.default_driver = default if isinstance(default, str) else implicit

    def queue_driver(self, queue: str) -> str:
        name = self.queues.get(queue, {}).get("driver")
        return name if isinstance(name, str) else self.default_driver

    def queue_workers(self, queue: str) -> list[str]:
        names = self.queues.get(queue, {}).get("workers", [specs.DEFAULT_WORKER])
        return [w for w in names if isinstance(w, str)] if isinstance(names, list) else []

    def job_queue(self, job: str) -> str:
        name = self.jobs.get(job, {}).get("queue")
        return name if isinstance(name, str) else specs.DEFAULT_QUEUE

    def schedule_queue(self, schedule: str) -> str | None:
        """The schedule's queue: its own, else its job's (None without a job)."""
        entry = self.schedules.get(schedule, {})
        if isinstance(entry.get("queue"), str):
            return str(entry["queue"])
        job = entry.get("job")
        return self.job_queue(job) if isinstance(job, str) else None

    def served_by(self, worker: str) -> list[str]:
        return [q for q in self.queues if worker in self.queue_workers(q)]

    def driver_type(self, driver: str) -> str | None:
        kind = self.drivers.get(driver, {}).get("type")
        return kind if isinstance(kind, str) else None

    def type_of(self, driver: str) -> DriverType | None:
        """The driver's type, or None when it cannot be loaded here."""
        kind = self.driver_type(driver)
        if kind is None:
            return None
        if kind not in self._types:
            from ..drivers import driver_type

            try:
                self._types[kind] = driver_type(kind)
            except Exception:  # an unloadable type is reported by the import pass
                self._types[kind] = None
        return self._types[kind]

    def capabilities(self, driver: str) -> frozenset[Capability] | None:
        """The driver's capabilities, or None when its type cannot be loaded here."""
        kind = self.type_of(driver)
        return None if kind is None else kind.capabilities

    def worker_setting(self, worker: str, key: str) -> float:
        value = seconds(self.workers.get(worker, {}).get(key))
        return float(WORKER_DEFAULTS[key]) if value is None else value
