"""Schedule slots in Redis: fire.lua claims a slot and pushes its job in one script.

The wrappers of ``lua/fire.lua`` and ``lua/slot_state.lua``; replies are decoded here
(a stored state is untrusted: :func:`~runa_runner.drivers.slots.slot_state`).
"""

from __future__ import annotations

from typing import Any

from ...records import CorruptRecord
from ..base import LEASE_LOST, FireOutcome, FireResult, SlotClaim, SlotState
from ..slots import slot_state
from . import scripts
from .keys import queue_keys, schedule_key

FIRE = scripts._load("fire")
SLOT_STATE = scripts._load("slot_state")
#: What fire.lua and slot_state.lua say of a schedule key that is not a hash.
NOT_A_HASH = "the schedule key holds no hash"
_OUTCOMES: dict[str, FireOutcome] = {
    "fired": "fired", "skipped": "skipped", "advanced": "advanced", "taken": "taken"}


def fire(prefix: str, claim: SlotClaim) -> scripts.Call[FireResult]:
    """The fire.lua call for ``claim``."""
    k = queue_keys(prefix, claim.queue)
    item = claim.item
    if item is not None and item.envelope.unique is not None:
        raise ValueError("a scheduled job carries no unique key")
    arg = "" if item is None else scripts._push_arg(item)
    return scripts.Call(
        FIRE, (schedule_key(prefix, claim.queue, claim.schedule), k.ready, k.signal, k.job,
               k.reserved, k.failed),
        (repr(float(claim.slot)), "1" if claim.skip_overlap else "0", LEASE_LOST, arg),
        _fire_result)


def _fire_result(raw: Any) -> FireResult:
    outcome, value = raw[0], raw[1]
    if outcome == "corrupt":
        if value == NOT_A_HASH:
            raise CorruptRecord(f"schedule state: {NOT_A_HASH}")
        slot_state(value, None, None)  # raises CorruptRecord naming the defect
        raise CorruptRecord(f"schedule state's watermark is out of range: {str(value)[:40]!r}")
    previous = slot_state(raw[2], None, None).watermark if raw[2] else None
    return FireResult(_OUTCOMES[outcome], value or None, previous)


def state(prefix: str, queue: str, schedule: str) -> scripts.Call[SlotState | None]:
    """The slot_state.lua call: the stored state, or None."""
    return scripts.Call(SLOT_STATE, (schedule_key(prefix, queue, schedule),), (), _state)


def _state(raw: Any) -> SlotState | None:
    if len(raw) == 2 and raw[0] == "corrupt":
        raise CorruptRecord(f"schedule state: {raw[1]}")
    watermark, fired, job = raw
    if watermark is None and fired is None and job is None:
        return None
    return slot_state(watermark, fired, job)
