"""Run events: the observer fan-out, the outcome counter, and pushes telling observers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Outcome, StatsDelta
from runa_runner.events import Counter, Observer, Observers, outcome_name
from runa_runner.job import Envelope

ENV = Envelope(id="i", queue="q", job="j", payload=None)


def outcome(kind: Any, give_back: bool = False) -> Outcome:
    return Outcome("q", "i", "t", kind, give_back_attempt=give_back)


class Pushed(Observer):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[str]]] = []

    def on_pushed(self, queue: str, job: str, ids: Sequence[str]) -> None:
        self.calls.append((queue, job, list(ids)))


class Broken(Observer):
    def on_started(self, worker: str, envelope: Envelope) -> None:
        raise RuntimeError("observer bug")


def test_outcome_names() -> None:
    assert [outcome_name(outcome(k)) for k in ("ack", "fail", "release")] == [
        "succeeded", "failed", "retried"]
    assert outcome_name(outcome("release", give_back=True)) == "released"


def test_the_counter_counts_held_outcomes_only_and_hands_out_unwritten_counts() -> None:
    c = Counter()
    for kind, held, back in [("ack", True, False), ("ack", True, False), ("fail", True, False),
                             ("release", True, False), ("ack", False, False),
                             ("release", True, True)]:
        c.on_settled("w", ENV, outcome(kind, back), held, 0.1)
    assert c.total == StatsDelta(succeeded=2, failed=1, retried=1)
    taken = c.take()
    assert taken == c.total and not c.take()
    c.give_back(taken)  # the stats write failed: written next time
    assert c.take() == taken and c.total == taken


def test_a_raising_observer_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heard: list[str] = []

    class Started(Observer):
        def on_started(self, worker: str, envelope: Envelope) -> None:
            heard.append(worker)

    events = Observers([Broken(), Started()])
    with caplog.at_level(logging.ERROR, "runa_runner.worker"):
        events.on_started("w", ENV)
    assert heard == ["w"]
    assert "observer bug" in caplog.text
    assert events.wants("on_started") and not events.wants("on_lease_lost")


async def test_pushes_tell_the_registrys_observers() -> None:
    reg = rr.Registry()
    seen = Pushed()
    reg.events.add(seen)
    reg.job("j", lambda job: None)
    one = await reg.push("j", 1)
    many = await reg.push_many("j", [2, 3])
    assert seen.calls == [("default", "j", [one]), ("default", "j", many)]
