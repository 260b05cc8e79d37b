"""Worker counters that ride along with the next settle instead of costing a round trip.

A worker adds its counters right after each settled batch (``add_stats``); here they wait
for the next ``settle`` statement, which writes them in the same transaction, or are
written on their own after :data:`FLUSH_AFTER` seconds, at ``leave`` (a clean stop), at
``close`` and before ``worker_counts`` reads them. A SIGKILL loses what was waiting, as a
kill between the two calls always could: at most one batch's counts.
"""

from __future__ import annotations

from typing import Any

from ..base import StatsDelta

#: Seconds counters wait for a settle to carry them before they are written on their own.
FLUSH_AFTER = 0.5


class PendingStats:
    """Counter deltas per worker pool, not yet written."""

    def __init__(self) -> None:
        self._deltas: dict[str, StatsDelta] = {}

    def __bool__(self) -> bool:
        return bool(self._deltas)

    def add(self, worker: str, delta: StatsDelta) -> None:
        old = self._deltas.get(worker, StatsDelta())
        self._deltas[worker] = StatsDelta(old.succeeded + delta.succeeded,
                                          old.failed + delta.failed,
                                          old.retried + delta.retried)

    def take(self) -> dict[str, StatsDelta]:
        """Everything waiting (now the caller's to write, or to give back)."""
        taken, self._deltas = self._deltas, {}
        return taken

    def give_back(self, taken: dict[str, StatsDelta]) -> None:
        """The write of ``taken`` failed: keep it for the next one."""
        for worker, delta in taken.items():
            self.add(worker, delta)


def params(taken: dict[str, StatsDelta]) -> dict[str, Any]:
    """The ``workers, succeeded, failed, retried`` arrays of add_stats and settle."""
    return {
        "workers": list(taken),
        "succeeded": [d.succeeded for d in taken.values()],
        "failed": [d.failed for d in taken.values()],
        "retried": [d.retried for d in taken.values()],
    }
