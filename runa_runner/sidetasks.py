"""A worker unit's side tasks (heartbeat, lease renewal, housekeeping, settler), supervised.

Each side task runs for the life of the unit and handles its own driver outages
(``DriverError`` is expected and retried there). Any other exception is a bug or a
broken environment: left alone, the task would die silently and, say, leases would stop
being renewed or outcomes stop being settled while the unit keeps reserving jobs that
never finish. So a side task that ends with an exception is logged once (ERROR, with
its traceback) and the unit is told to stop; ``Unit.run`` then raises
:class:`~runa_runner.errors.WorkerFailed`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("runa_runner.worker")


class SideTasks:
    """Named tasks that run beside the reserve loop; the first unexpected death is kept."""

    def __init__(self, worker: str, on_death: Callable[[], None]) -> None:
        self.worker = worker
        self._on_death = on_death
        self._tasks: dict[asyncio.Task[None], str] = {}
        #: (side task name, exception) of the first side task that died, if any.
        self.death: tuple[str, BaseException] | None = None

    def start(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=f"runa-{self.worker}-{name}")
        self._tasks[task] = name
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        name = self._tasks.get(task, task.get_name())
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return  # a side task with nothing to do (no retention, no heartbeat) may return
        if self.death is None:
            self.death = (name, exc)
        log.error("worker %s: side task '%s' died unexpectedly (%s: %s); stopping the worker",
                  self.worker, name, type(exc).__name__, exc, exc_info=exc)
        self._on_death()

    async def close(self) -> None:
        """Cancel every side task and wait until they have all ended."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
