"""Which job the current task runs, for log records made inside a handler.

A contextvar is set around each run (a run middleware added by the unit), so it follows
the handler into the tasks it starts and into the thread of a sync handler (which runs
in a copy of the context). :class:`~runa_runner.observe.logs.JobFilter` reads it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ..specs import RunMiddleware


@dataclass(frozen=True, slots=True)
class RunTag:
    """The fields a record made during a run carries."""

    worker: str
    queue: str
    job: str
    id: str
    attempt: int


current: ContextVar[RunTag | None] = ContextVar("runa_current_run", default=None)


def tagging(worker: str) -> RunMiddleware:
    """A run middleware that sets :data:`current` for the handler call of ``worker``."""

    async def tag(job: Any, call_next: Any) -> None:
        token = current.set(RunTag(worker, job.queue, job.name, job.id, job.attempt))
        try:
            await call_next(job)
        finally:
            current.reset(token)

    return tag
