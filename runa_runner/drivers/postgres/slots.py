"""Schedule slots in PostgreSQL: claim a slot and push its job in one transaction.

The plan locks the schedule's row (creating it on the first claim), compares the
watermark, moves it, checks overlap and inserts the job with the push statement, all in
one transaction (drivers/base.py SlotStore): of concurrent claims of one slot the first
to lock the row fires, the others find the watermark moved (``taken``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources

from ..base import FireResult, SlotClaim, SlotState
from ..slots import slot_state
from ..sqlfiles import parse_named
from . import moves
from .queries import quote_ident

_QUERIES = parse_named(resources.files(__package__ or "").joinpath("sql", "schedules.sql")
                       .read_text(encoding="utf-8"))


@cache
def statements(schema: str) -> dict[str, bytes]:
    """The schedule statements for ``schema``."""
    return {k: v.replace("{schema}", quote_ident(schema)).encode() for k, v in _QUERIES.items()}


def state_of(rows: moves.Rows) -> SlotState | None:
    """A ``slot_state`` row as a SlotState (None: no claim yet); CorruptRecord if unreadable."""
    if not rows or rows[0][0] is None:
        return None
    return slot_state(*rows[0])


def fire(q: Mapping[str, bytes], s: Mapping[str, bytes], claim: SlotClaim, channel: str,
         notify: bool) -> moves.Plan[FireResult]:
    """Claim ``claim.slot`` (see the module docstring); run it in one transaction."""
    key = {"queue": claim.queue, "schedule": claim.schedule}
    yield s["slot_new"], key
    state = state_of((yield s["slot_lock"], key))  # CorruptRecord: rolled back, nothing written
    previous = None if state is None else state.watermark
    if state is not None and state.watermark >= claim.slot:
        return FireResult("taken", previous=previous)
    yield s["slot_claim"], {**key, "slot": claim.slot}
    if claim.item is None:
        return FireResult("advanced", previous=previous)
    last = None if state is None else state.job_id
    live = claim.skip_overlap and last is not None and bool(
        (yield s["slot_job_live"], {"queue": claim.queue, "id": last}))
    if live:
        return FireResult("skipped", last, previous)
    ids = yield from moves.push(q, [claim.item], channel, notify)
    yield s["slot_fired"], {**key, "slot": claim.slot, "id": ids[0]}
    return FireResult("fired", ids[0], previous)
