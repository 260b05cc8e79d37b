"""One worker's view of driver trouble: a line when calls start failing, a line when they
work again, and silence in between, whichever part of the worker (reserve, renew,
settle, stats, heartbeat) hits the outage. A dead server must not flood the logs.
"""

from __future__ import annotations

import logging

log = logging.getLogger("runa_runner.worker")


class Outage:
    """Shared by a unit and its settler: ``trouble`` on a failed call, ``recovered`` on success."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.down = False

    def trouble(self, exc: BaseException, doing: str = "") -> None:
        if self.down:
            log.debug("worker %s: %s still failing: %s", self.worker, doing or "driver", exc)
            return
        self.down = True
        log.warning("worker %s: driver unavailable, retrying with backoff: %s", self.worker, exc)

    def recovered(self) -> None:
        if self.down:
            self.down = False
            log.warning("worker %s: driver available again", self.worker)
