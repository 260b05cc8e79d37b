"""Retry and delete of failed jobs: one, the selected, or all (DESIGN §12).

The JSON API and the page's forms both end here; they differ only in how the selection
arrives. A selection is bounded (ids per request, characters per id) before any driver
sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import DriverUnavailable, Unsupported
from .reads import MAX_ID_CHARS, Problem, Reader

#: Ids one request may name (a page holds at most this many too).
MAX_IDS = 1000

Action = Literal["retry", "delete"]


@dataclass(frozen=True, slots=True)
class Selection:
    """The failed jobs to act on: ``ids``, or every failed job of the queue (None)."""

    ids: tuple[str, ...] | None

    @classmethod
    def of(cls, ids: Sequence[Any]) -> Selection:
        """Checked ids. Raises Problem 400 naming what is wrong."""
        if len(ids) > MAX_IDS:
            raise Problem(400, f"at most {MAX_IDS} ids per request, got {len(ids)}")
        for job_id in ids:
            if not isinstance(job_id, str) or not 0 < len(job_id) <= MAX_ID_CHARS:
                raise Problem(400, f"each id must be a string of 1 to {MAX_ID_CHARS} "
                                   f"characters, got {str(job_id)[:40]!r}")
        return cls(tuple(dict.fromkeys(ids)))


def from_json(body: Any) -> Selection:
    """``{"ids": [...]}`` or ``{"all": true}``; anything else is a 400."""
    if isinstance(body, dict) and body.keys() == {"all"} and body["all"] is True:
        return Selection(None)
    if isinstance(body, dict) and body.keys() == {"ids"} and isinstance(body["ids"], list):
        return Selection.of(body["ids"])
    raise Problem(400, 'the body must be {"ids": ["ID", ...]} or {"all": true}')


def from_form(form: Any, action: Action) -> Selection:
    """A form's selection: ``one`` (a row's own button), else ``all`` (to delete all, with
    its ``confirm`` box ticked), else the checked ``ids``; nothing chosen is a 400."""
    one = form.getlist("one")
    if one:
        return Selection.of(one[:1])
    if form.get("all") == "1":
        if action == "delete" and form.get("confirm") != "1":
            raise Problem(400, "deleting every failed job needs its confirmation box ticked")
        return Selection(None)
    ids = form.getlist("ids")
    if not ids:
        raise Problem(400, "no job selected")
    return Selection.of(ids)


async def act(reader: Reader, queue: str, action: Action, chosen: Selection) -> int:
    """Retry or delete the chosen failed jobs of ``queue``; how many it acted on.

    Raises:
        Problem: 404 unknown queue, 501 unsupported, 503 driver unreachable or out of
            this process's sight.
    """
    reader.known_queue(queue)
    api = reader.inspector()
    name = reader.registry.queue_spec(queue).driver
    if not api.sees(name):
        raise Problem(503, f"queue '{queue}' uses an in-process driver: its failed jobs "
                           "live in the process that runs the workers")
    try:
        if action == "retry":
            return await api.retry_failed(queue, None if chosen.ids is None else chosen.ids)
        if chosen.ids is None:
            return await api.purge_failed(queue)
        return sum([await api.delete_failed(queue, job_id) for job_id in chosen.ids])
    except DriverUnavailable as exc:
        raise Problem(503, f"driver '{name}' unreachable: {exc.message}") from None
    except Unsupported as exc:
        raise Problem(501, str(exc)) from None
