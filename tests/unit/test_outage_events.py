"""Driver trouble is told to the run-event observers once per outage, like the log lines."""

from __future__ import annotations

import time

from runa_runner.drivers.memory import MemoryDriver
from runa_runner.errors import DriverUnavailable
from runa_runner.events import Observer, Observers
from runa_runner.outage import Outage


class Heard(Observer):
    def __init__(self) -> None:
        self.heard: list[tuple[str, str]] = []

    def on_driver_down(self, worker: str, driver: str, error: BaseException) -> None:
        self.heard.append(("down", driver))

    def on_driver_up(self, worker: str, driver: str) -> None:
        self.heard.append(("up", driver))


def test_one_down_and_one_up_per_outage() -> None:
    heard = Heard()
    outage, driver = Outage("w", Observers([heard])), MemoryDriver()
    outage.name(driver, "cache")
    for _ in range(3):
        outage.trouble(driver, DriverUnavailable("refused"))
    outage.recovered(driver, time.monotonic())
    outage.recovered(driver, time.monotonic())
    # observers hear the manifest name (a metric label), the log line says more
    assert heard.heard == [("down", "cache"), ("up", "cache")]
