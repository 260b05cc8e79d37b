"""runa-runner: a declarative, configuration-driven background job runner.

The public API is what this module exports; everything else may change.
"""

from __future__ import annotations

from . import drivers
from .drivers.flow import Rate
from .errors import (
    Abort,
    ConfigError,
    DriverError,
    DriverUnavailable,
    JobFailed,
    JobNotFound,
    NotCancellable,
    PayloadInvalid,
    RegistryFrozen,
    RetryIn,
    RunaError,
    StopTimedOut,
    UnknownName,
    Unsupported,
    WorkerFailed,
)
from .job import Envelope, Job
from .registry import Registry, default
from .schedules.info import ScheduleInfo
from .schedules.scheduler import ScheduleEvent, Scheduler
from .specs import JobInfo, QueueInfo, WorkerInfo
from .worker import Unit

__version__ = "0.1.0"


def load(path: str | None = None, *, import_handlers: bool = True) -> Registry:
    """Load, validate and compile a manifest into a frozen registry.

    ``path`` defaults to ``$RUNA_CONFIG`` or ``jobs.yaml``.

    Raises:
        ConfigError: listing every problem as ``FILE:LINE:COL: PATH: message``.
    """
    from .manifest import load_registry

    return load_registry(path, import_handlers=import_handlers)


__all__ = [
    "Abort",
    "ConfigError",
    "DriverError",
    "DriverUnavailable",
    "Envelope",
    "Job",
    "JobFailed",
    "JobInfo",
    "JobNotFound",
    "NotCancellable",
    "PayloadInvalid",
    "QueueInfo",
    "Rate",
    "Registry",
    "RegistryFrozen",
    "RetryIn",
    "RunaError",
    "ScheduleEvent",
    "ScheduleInfo",
    "Scheduler",
    "StopTimedOut",
    "Unit",
    "UnknownName",
    "Unsupported",
    "WorkerFailed",
    "WorkerInfo",
    "__version__",
    "default",
    "drivers",
    "load",
]
