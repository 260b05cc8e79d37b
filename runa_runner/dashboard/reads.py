"""What the dashboard shows, read through the inspector (DESIGN §12).

Every read goes through :class:`~runa_runner.inspection.Inspector`: counts come from the
drivers' own counters and job lists are keyset pages (``after`` an id, newest first), so
no page costs more on a queue with a million failed jobs than on an empty one. A fresh
inspector per request: a driver that failed is skipped for the rest of that request
only, and the next refresh asks again.

Failures that a page or an API answer must show become :class:`Problem` (an HTTP status
and one line), never an empty list that would read as "nothing there".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, Unsupported
from ..inspection import Inspector, JobPage
from ..schedules.info import schedule_info
from ..specs import JobInfo

if TYPE_CHECKING:
    from ..registry import Registry


#: A job id is 26 characters; anything far longer is not one (and is not looked up).
MAX_ID_CHARS = 200


class Problem(Exception):
    """A request the dashboard cannot answer as asked: ``status`` and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Overview:
    """The overview page and its refresh: rows as the API gives them."""

    queues: list[dict[str, Any]]
    workers: list[dict[str, Any]]
    schedules: list[dict[str, Any]]
    #: why schedules are not shown (None when they are)
    schedules_note: str | None
    #: driver name -> why it could not be reached
    down: dict[str, str] = field(default_factory=dict)


class Reader:
    """The dashboard's reads over one registry; ``outside`` as for the inspector."""

    def __init__(self, registry: Registry, *, outside: bool) -> None:
        self.registry = registry
        self.outside = outside

    def inspector(self) -> Inspector:
        return Inspector(self.registry, outside=self.outside)

    async def queues(self, api: Inspector) -> list[dict[str, Any]]:
        """``list --json`` queue objects plus ``oldest_pending_seconds`` (the age of the
        oldest runnable job; None where the driver cannot tell)."""
        rows = []
        for info in await api.queues():
            row = dataclasses.asdict(info)
            row["oldest_pending_seconds"] = await api.oldest_due_age(info.name)
            rows.append(row)
        return rows

    async def workers(self, api: Inspector) -> list[dict[str, Any]]:
        return [dataclasses.asdict(w) for w in await api.workers()]

    async def schedules(self, api: Inspector) -> tuple[list[dict[str, Any]], str | None]:
        """The rows of ``schedule list --json``, and why some show no last fire (None
        when every driver answered): a driver that is down costs its rows' last fire,
        not the page."""
        reg = self.registry
        rows = await schedule_info(reg.schedules, reg.queues, reg.drivers, reg.open_driver,
                                   down=api.down)
        down = sorted({self.registry.queue_spec(r.queue).driver for r in rows} & set(api.down))
        note = (f"last fires unknown: driver {', '.join(repr(d) for d in down)} unreachable"
                if down else None)
        return [r.to_dict() for r in rows], note

    async def overview(self) -> Overview:
        api = self.inspector()
        queues = await self.queues(api)
        workers = await self.workers(api)
        schedules, note = await self.schedules(api)
        return Overview(queues, workers, schedules, note, dict(api.down))

    def known_queue(self, queue: str) -> None:
        """Raises Problem 404 for a queue the registry does not declare."""
        if queue not in self.registry.queues:
            raise Problem(404, f"unknown queue '{queue}'")

    async def page(self, queue: str, state: str, limit: int, after: str | None) -> JobPage:
        """One page of ``queue``'s jobs in ``state``, newest first.

        Raises:
            Problem: 404 unknown queue, 400 bad state or limit, 501 a driver that cannot
                list, 503 a driver that cannot be reached or is out of this process's sight.
        """
        self.known_queue(queue)
        api = self.inspector()
        name = self.registry.queue_spec(queue).driver
        driver = self.registry.drivers[name]
        try:
            page = await api.jobs(queue, state, limit, after)
        except ConfigError as exc:
            raise Problem(400, str(exc)) from None
        except Unsupported:
            raise Problem(501, f"listing {state} jobs is not available on "
                               f"{driver.type_name} (queue '{queue}')") from None
        if name in api.down:
            raise Problem(503, f"driver '{name}' unreachable: {api.down[name]}")
        if not api.sees(name):
            raise Problem(503, f"queue '{queue}' uses the in-process {driver.type_name} driver "
                               f"'{name}': its jobs live in the process that runs the workers")
        return page

    async def job(self, job_id: str) -> JobInfo:
        """The stored job (its ``to_dict`` is the ``job --json`` object).

        Raises:
            Problem: 404 unknown, 503 not found on the drivers that answered while
                another could not be asked.
        """
        if len(job_id) > MAX_ID_CHARS:  # not an id: no driver is asked
            raise Problem(404, f"unknown job '{job_id[:40]}...'")
        api = self.inspector()
        info = await api.job(job_id)
        if info is None and api.down:
            dead = "; ".join(f"driver '{n}' unreachable: {r}" for n, r in api.down.items())
            raise Problem(503, f"job '{job_id}' not found on the reachable drivers; {dead}")
        if info is None:
            raise Problem(404, f"unknown job '{job_id}'")
        return info
