"""What a registry's freeze checks about its schedules (the manifest's validate reports
the same problems with FILE:LINE:COL, in manifest/schedules.py)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..drivers.base import Capability, Driver
from ..errors import PayloadInvalid
from ..pushing import encode_payload
from ..specs import JobSpec, QueueSpec
from .spec import ScheduleSpec


def schedule_problems(
    schedules: Mapping[str, ScheduleSpec], jobs: Mapping[str, JobSpec],
    queues: Mapping[str, QueueSpec], drivers: Mapping[str, Driver],
) -> Iterator[str]:
    """One message per problem: unknown job or queue, a driver that cannot fire
    schedules, a payload the job's type refuses."""
    for s in schedules.values():
        job = jobs.get(s.job)
        if job is None:
            yield f"schedule '{s.name}': unknown job '{s.job}'"
            continue
        queue = queues.get(s.queue)
        if queue is None:
            yield f"schedule '{s.name}': unknown queue '{s.queue}'"
            continue
        driver = drivers.get(queue.driver)
        if driver is not None and Capability.SCHEDULES not in driver.capabilities:
            yield (f"schedule '{s.name}': driver '{queue.driver}' (type {driver.type_name}) "
                   f"cannot fire schedules (it lacks the '{Capability.SCHEDULES.value}' "
                   "capability)")
        try:
            encode_payload(job, {} if s.payload is None else s.payload)
        except PayloadInvalid as exc:
            yield f"schedule '{s.name}': payload: {exc}"
