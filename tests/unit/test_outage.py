"""Outage lines: one when a driver goes down, one when it is back, per driver, no flapping."""

from __future__ import annotations

import logging
import time

import pytest

from runa_runner.drivers.memory import MemoryDriver
from runa_runner.errors import DriverUnavailable
from runa_runner.outage import Outage, describe_target


class Lines:
    """The worker logger's messages so far (DEBUG included, as ``--verbose`` shows them)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def __call__(self) -> list[str]:
        return self._caplog.messages


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Lines:
    caplog.set_level(logging.DEBUG, logger="runa_runner.worker")
    return Lines(caplog)


def test_many_failures_give_one_line_down_and_one_up(lines: Lines) -> None:
    outage, driver = Outage("w"), MemoryDriver()
    outage.name(driver, "jobs")
    for _ in range(50):
        outage.trouble(driver, DriverUnavailable("refused"))
    outage.recovered(driver, time.monotonic())
    outage.recovered(driver, time.monotonic())
    label = f"driver 'jobs' ({describe_target(driver)})"
    assert lines() == [f"worker w: {label} unavailable, retrying with backoff: refused",
                     f"worker w: {label} available again"]


def test_a_call_begun_before_the_outage_does_not_end_it(lines: Lines) -> None:
    outage, driver = Outage("w"), MemoryDriver()
    outage.name(driver, "jobs")
    began = time.monotonic()  # a reply already on its way when the server went down
    outage.trouble(driver, DriverUnavailable("reset by peer"))
    outage.recovered(driver, began)
    assert outage.is_down(driver) and len(lines()) == 1
    outage.recovered(driver, time.monotonic())
    assert not outage.down and lines()[-1].endswith(" available again")


def test_a_healthy_driver_does_not_end_another_drivers_outage(lines: Lines) -> None:
    outage, down, healthy = Outage("w"), MemoryDriver(), MemoryDriver()
    outage.name(down, "redis")
    outage.name(healthy, "memory")
    outage.trouble(down, DriverUnavailable("refused"))
    for _ in range(5):
        outage.recovered(healthy, time.monotonic())
        outage.trouble(down, DriverUnavailable("refused"))
    assert len(lines()) == 1 and outage.is_down(down) and not outage.is_down(healthy)


def test_a_driver_down_at_start_says_available_not_again(lines: Lines) -> None:
    outage, driver = Outage("w"), MemoryDriver()
    outage.name(driver, "jobs")
    outage.trouble(driver, DriverUnavailable("refused"), starting=True)
    outage.recovered(driver, time.monotonic())
    assert lines()[-1] == f"worker w: driver 'jobs' ({describe_target(driver)}) available"
