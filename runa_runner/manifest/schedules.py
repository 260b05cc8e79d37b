"""The checks of ``schedules:`` the schema cannot express, each with FILE:LINE:COL.

References (the job, the queue, a driver able to fire schedules), cron syntax and time
zone names run with the other reference checks; the payload is checked against the
job's payload type in the import pass (it needs the handler).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..drivers.base import Capability
from ..errors import ConfigError, PayloadInvalid
from ..handlers import payload_adapter, payload_type
from ..pushing import encode_payload
from ..schedules.calendar import check_cron, time_zone
from ..specs import JobSpec
from .document import Document, KeyPath
from .imports import import_callable
from .problems import Problem, did_you_mean
from .view import View


def _entries(view: View) -> Iterator[tuple[str, dict[str, object]]]:
    yield from view.schedules.items()


def check_schedule_refs(doc: Document, view: View) -> Iterator[Problem]:
    for name, entry in _entries(view):
        job = entry.get("job")
        if isinstance(job, str) and job not in view.jobs:
            yield doc.problem(("schedules", name, "job"),
                              f"unknown job '{job}'" + did_you_mean(job, view.jobs))
            continue
        queue = view.schedule_queue(name)
        if queue is None:
            continue
        if queue not in view.queues:
            where: KeyPath = ("schedules", name, "queue") if "queue" in entry else (
                "schedules", name, "job")
            yield doc.problem(where, f"unknown queue '{queue}'" + did_you_mean(queue, view.queues))
            continue
        driver = view.queue_driver(queue)
        caps = view.capabilities(driver)
        if caps is not None and Capability.SCHEDULES not in caps:
            where = ("schedules", name, "queue") if "queue" in entry else ("schedules", name)
            yield doc.problem(where, (
                f"driver '{driver}' (type {view.driver_type(driver)}) of queue '{queue}' cannot "
                f"fire schedules exactly once (it lacks the '{Capability.SCHEDULES.value}' "
                "capability): put the schedule on a queue of a memory, sqlite or redis driver"),
                key="queue" not in entry)


def check_schedule_times(doc: Document, view: View) -> Iterator[Problem]:
    for name, entry in _entries(view):
        cron = entry.get("cron")
        if isinstance(cron, str):
            try:
                check_cron(cron)
            except ValueError as exc:
                yield doc.problem(("schedules", name, "cron"), str(exc))
        zone = entry.get("timezone")
        if isinstance(zone, str):
            try:
                time_zone(zone)
            except ValueError as exc:
                yield doc.problem(("schedules", name, "timezone"), str(exc))


def schedule_payload_problems(doc: Document, view: View) -> list[Problem]:
    """Each schedule's payload against its job's payload type (handlers imported)."""
    problems: list[Problem] = []
    for name, entry in _entries(view):
        job = entry.get("job")
        handler = view.jobs.get(job, {}).get("handler") if isinstance(job, str) else None
        if not isinstance(handler, str):
            continue
        try:
            target = import_callable(handler)
            ptype = payload_type(target)
            spec = JobSpec(str(job), target, False, ptype, payload_adapter(target, ptype))
        except ConfigError:
            continue  # the import pass reports the handler itself
        payload = entry.get("payload", {})
        try:
            encode_payload(spec, {} if payload is None else payload)
        except PayloadInvalid as exc:
            for field, message in exc.errors:
                where, reached = _field_path(doc, name, field)
                problems.append(doc.problem(where, message if reached else f"{field}: {message}"))
    return problems


def _field_path(doc: Document, name: str, field: str) -> tuple[KeyPath, bool]:
    """Where the payload field a pydantic error names is written, and whether the file
    has that very field (else its nearest parent: the payload, or the schedule)."""
    if "payload" not in view_entry(doc, name):
        return ("schedules", name), False
    path: KeyPath = ("schedules", name, "payload")
    parts = field.split(".") if field and field != "payload" else []
    for part in parts:
        candidate = (*path, int(part) if part.isdigit() else part)
        if doc.prefix + candidate not in doc.positions.values:
            return path, False
        path = candidate
    return path, True


def view_entry(doc: Document, name: str) -> dict[str, object]:
    entry = doc.body.get("schedules", {}).get(name)
    return entry if isinstance(entry, dict) else {}
