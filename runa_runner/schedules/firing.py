"""One claim of one slot: the job built as a push would build it, then the driver's
atomic fire (drivers/base.py SlotStore), wrapped by the push middleware."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from ..drivers.base import Capability, Driver, FireResult, PushItem, SlotClaim, SlotStore
from ..errors import Unsupported
from ..pushing import PushOptions, Template, encode_payload
from ..specs import JobSpec, PushMiddleware, QueueSpec
from .plan import Step
from .spec import ScheduleSpec, utc_iso

if TYPE_CHECKING:
    from ..job import Envelope


def slot_store(driver: Driver, name: str) -> SlotStore:
    """``driver`` as a SlotStore; Unsupported naming it when it cannot fire schedules."""
    if Capability.SCHEDULES not in driver.capabilities or not isinstance(driver, SlotStore):
        raise Unsupported(name, f"schedules (type {driver.type_name} lacks the "
                                f"'{Capability.SCHEDULES.value}' capability)")
    return driver


def build_item(job: JobSpec, queue: QueueSpec, spec: ScheduleSpec, slot: float) -> PushItem:
    """The job for ``slot``: meta is queue, job, then schedule/scheduled_for, then the
    schedule's own meta; the payload is the schedule's (``{}`` when absent)."""
    meta = {"schedule": spec.name, "scheduled_for": utc_iso(slot), **spec.meta}
    template = Template.resolve(job, queue, PushOptions(queue=spec.queue, meta=meta))
    payload = {} if spec.payload is None else spec.payload
    return template.item(*encode_payload(job, payload))


async def fire_step(store: SlotStore, spec: ScheduleSpec, step: Step, job: JobSpec,
                    queue: QueueSpec, chain: Sequence[PushMiddleware]) -> FireResult:
    """Claim ``step.slot``; when it pushes, through ``chain`` (the registry's and the
    queue's push middleware; the innermost call is the atomic fire)."""
    skip = spec.overlap == "skip"
    if not step.push:
        return await store.fire(SlotClaim(spec.queue, spec.name, step.slot, None, skip))
    item = build_item(job, queue, spec, step.slot)
    if not chain:
        return await store.fire(SlotClaim(spec.queue, spec.name, step.slot, item, skip))
    results: list[FireResult] = []

    async def innermost(envelope: Envelope) -> str:
        pushed = item if envelope is item.envelope else PushItem(
            envelope, item.delay, item.unique_until, item.unique_for)
        result = await store.fire(SlotClaim(spec.queue, spec.name, step.slot, pushed, skip))
        results.append(result)
        return result.job_id or ""

    call: Any = innermost
    for mw in reversed(chain):
        call = _bind(mw, call)
    await call(item.envelope)
    if not results:  # a middleware that did not call on: nothing was claimed
        return FireResult("taken")
    return results[0]


def _bind(mw: Any, nxt: Any) -> Any:
    async def call(envelope: Envelope) -> str:
        return cast(str, await mw(envelope, nxt))

    return call
