"""One worker's view of driver trouble: a line when a driver's calls start failing, a line
when they work again, and silence in between, whichever part of the worker (connect,
reserve, renew, settle, stats, heartbeat) hits the outage. A dead server must not flood
the logs, not even at ``--verbose``.

State is kept per driver, so a healthy driver (say the memory driver of one queue) never
announces the end of another driver's outage. A call that began before the outage and
happens to succeed after it began (a reply already on its way) is no sign of recovery:
only a call begun after the first failure ends the outage, so a flapping line pair never
appears.
"""

from __future__ import annotations

import asyncio
import logging
import time

from .drivers.base import Driver
from .errors import DriverUnavailable
from .events import Observer
from .registry import Registry

log = logging.getLogger("runa_runner.worker")

#: First and longest pause between attempts to reach a driver that is down at start.
FIRST_BACKOFF = 0.2
MAX_BACKOFF = 5.0


def describe_target(driver: Driver) -> str:
    """``type:target`` as the start line prints it (URLs come redacted from the driver)."""
    info = driver.describe()
    if not info.target or info.target.startswith(f"{info.type}:"):
        return info.target or info.type
    return f"{info.type}:{info.target}"


class Outage:
    """Shared by a unit and its settler: ``trouble`` on a failed call, ``recovered`` on success."""

    def __init__(self, worker: str, events: Observer | None = None) -> None:
        self.worker = worker
        #: told on_driver_down / on_driver_up, with the lines
        self.events = events or Observer()
        #: id(driver) -> its label in log lines; drivers not named here get a generic label.
        self._labels: dict[int, str] = {}
        #: id(driver) -> its manifest name (what observers are told: a metric label).
        self._names: dict[int, str] = {}
        #: id(driver) -> (monotonic time its outage began, whether it worked before).
        self._down: dict[int, tuple[float, bool]] = {}

    def name(self, driver: Driver, name: str) -> None:
        """Give ``driver`` the label the log lines use: its name and redacted target."""
        self._labels[id(driver)] = f"driver '{name}' ({describe_target(driver)})"
        self._names[id(driver)] = name

    @property
    def down(self) -> bool:
        """True while any driver of this worker is failing."""
        return bool(self._down)

    def is_down(self, driver: Driver) -> bool:
        return id(driver) in self._down

    def trouble(self, driver: Driver, exc: BaseException, *, starting: bool = False) -> None:
        """A call to ``driver`` failed: one WARNING line if it was working until now.

        ``starting``: the driver never answered yet (the worker waits to start).
        """
        if id(driver) in self._down:
            return
        self._down[id(driver)] = (time.monotonic(), not starting)
        log.warning("worker %s: %s unavailable, retrying with backoff: %s",
                    self.worker, self._label(driver), exc,
                    extra={"event": "driver.down", "worker": self.worker, "error": str(exc)})
        self.events.on_driver_down(self.worker, self._name(driver), exc)

    def recovered(self, driver: Driver, began: float) -> None:
        """A call to ``driver`` begun at monotonic ``began`` succeeded."""
        state = self._down.get(id(driver))
        if state is None or began < state[0]:
            return
        del self._down[id(driver)]
        log.warning("worker %s: %s available%s", self.worker, self._label(driver),
                    " again" if state[1] else "",
                    extra={"event": "driver.up", "worker": self.worker})
        self.events.on_driver_up(self.worker, self._name(driver))

    def _label(self, driver: Driver) -> str:
        return self._labels.get(id(driver)) or f"driver {describe_target(driver)}"

    def _name(self, driver: Driver) -> str:
        return self._names.get(id(driver)) or self._label(driver)


async def open_when_up(registry: Registry, name: str, outage: Outage,
                       stopping: asyncio.Event) -> Driver | None:
    """Open driver ``name``, retrying with backoff while it cannot be reached (one line
    when it is down, one when it answers); None if ``stopping`` is set first.

    Raises:
        DriverError: the driver answered with an error that waiting will not cure.
    """
    driver = registry.drivers[name]
    outage.name(driver, name)
    delay = FIRST_BACKOFF
    while not stopping.is_set():
        began = time.monotonic()
        opening = asyncio.ensure_future(registry.open_driver(name))
        stop = asyncio.ensure_future(stopping.wait())
        await asyncio.wait((opening, stop), return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not opening.done():  # stopped during a slow connect: give it up
            opening.cancel()
            await asyncio.gather(opening, return_exceptions=True)
            return None
        exc = opening.exception()
        if exc is None:
            outage.recovered(driver, began)
            return opening.result()
        if not isinstance(exc, DriverUnavailable):
            raise exc
        outage.trouble(driver, exc, starting=True)
        try:
            await asyncio.wait_for(stopping.wait(), delay)
        except TimeoutError:
            delay = min(delay * 2, MAX_BACKOFF)
    return None
