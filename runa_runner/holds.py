"""Which of a worker's queues a flow limit holds back, and until when (drivers/flow.py).

After a short batch from a queue with limits the worker asks its driver why; a held queue
is then skipped (no reserve round trips, not waited on: its due jobs would end every wait
at once) until its rate window opens, or for ``poll_interval`` under ``max_running`` or a
pause, or until one of the worker's own runs of that queue ends (a slot it frees itself).
"""

from __future__ import annotations

import time

from .drivers.flow import Hold


class Holds:
    """The holds of one worker unit, by queue (monotonic deadlines)."""

    def __init__(self, poll_interval: float) -> None:
        self._poll = poll_interval
        self._until: dict[str, tuple[float, Hold]] = {}

    def note(self, queue: str, hold: Hold | None) -> None:
        """Record what the driver said (None: nothing holds the queue)."""
        if hold is None:
            self._until.pop(queue, None)
            return
        wait = self._poll if hold.retry_in is None else hold.retry_in
        self._until[queue] = (time.monotonic() + max(wait, 0.001), hold)

    def active(self, queue: str) -> bool:
        entry = self._until.get(queue)
        if entry is None:
            return False
        if entry[0] <= time.monotonic():
            del self._until[queue]
            return False
        return True

    def left(self) -> dict[str, float]:
        """Seconds left per queue held now."""
        now = time.monotonic()
        return {q: self._until[q][0] - now for q in list(self._until) if self.active(q)}

    def limited(self) -> bool:
        """Whether a limit (not a pause, which may last forever) holds a queue now."""
        return any(self._until[q][1].reason != "paused" for q in self.left())

    def freed(self, queue: str) -> None:
        """One of our runs of ``queue`` ended: a max_running slot is free, look at once."""
        entry = self._until.get(queue)
        if entry is not None and entry[1].reason == "max_running":
            del self._until[queue]
