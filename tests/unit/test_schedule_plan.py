"""Which slots a scheduler pass claims (pure: no driver, no clock), and the Python API."""

from __future__ import annotations

import pytest

import runa_runner as rr
from runa_runner.drivers.base import SlotState
from runa_runner.schedules.calendar import Cron, Every
from runa_runner.schedules.plan import MAX_PER_PASS, Step, count_between, plan
from runa_runner.schedules.spec import ScheduleSpec


def spec(catch_up: str = "latest", every: float = 10.0, grace: float = 5.0) -> ScheduleSpec:
    return ScheduleSpec.build("s", "j", "q", every=every, catch_up=catch_up, grace=grace)


def test_a_new_schedule_starts_now_and_fires_nothing_past() -> None:
    assert plan(spec(), None, 1234.5) == [Step(1234.5, push=False)]


def test_an_on_time_slot_fires() -> None:
    assert plan(spec(), SlotState(1000.0), 1012.0) == [Step(1010.0)]
    assert plan(spec(), SlotState(1010.0), 1012.0) == []


@pytest.mark.parametrize("catch_up, expected", [
    ("latest", [Step(1030.0)]),
    ("all", [Step(1010.0), Step(1020.0), Step(1030.0)]),
    ("none", [Step(1030.0, push=False)]),
])
def test_three_missed_slots(catch_up: str, expected: list[Step]) -> None:
    # Every scheduler was down from 1000 to 1036: slots 1010, 1020, 1030 are over 5s late.
    assert plan(spec(catch_up), SlotState(1000.0), 1036.0) == expected


@pytest.mark.parametrize("catch_up", ["latest", "none"])
def test_an_on_time_slot_replaces_the_missed_ones(catch_up: str) -> None:
    assert plan(spec(catch_up), SlotState(1000.0), 1042.0) == [Step(1040.0)]


def test_all_fires_missed_then_on_time_oldest_first_bounded_per_pass() -> None:
    got = plan(spec("all", every=1.0), SlotState(0.0), 10_000.0)
    assert len(got) == MAX_PER_PASS
    assert [s.slot for s in got[:3]] == [1.0, 2.0, 3.0]


def test_every_slots_are_multiples_of_the_period_since_the_epoch() -> None:
    cal = Every(900.0)
    assert cal.next_after(1_800_000_001.0) == 1_800_000_900.0
    assert cal.next_after(1_800_000_900.0) == 1_800_001_800.0
    assert cal.latest(1_800_000_899.9) == 1_800_000_000.0
    tenth = Every(0.1)
    assert tenth.next_after(0.3) > 0.3 and tenth.latest(0.3) <= 0.3


def test_cron_latest_is_the_newest_slot_at_or_before() -> None:
    cal = Cron("30 2 * * *", "Europe/Berlin")
    spring = 1_806_195_600.0  # 2027-03-28T03:00:00+02:00, the skipped 02:30's slot
    assert cal.latest(spring) == spring
    assert cal.latest(spring - 1) == spring - 86_400 + 1800  # 27 March 02:30 CET
    assert cal.next_after(spring - 1) == spring


def test_count_between_counts_strictly_inside() -> None:
    assert count_between(Every(10.0), 1000.0, 1040.0) == 3
    assert count_between(Every(10.0), 1000.0, 1010.0) == 0
    assert count_between(Every(10.0), 1001.0, 1039.0) == 3
    assert count_between(Every(1.0), 0.0, 86_400.0) == 86_399
    assert count_between(Cron("0 * * * *", "UTC"), 0.0, 86_400.0) == 23


# ---- r.schedule -------------------------------------------------------------------------

def registry() -> rr.Registry:
    r = rr.Registry()
    r.queue("q", workers=["w"])
    r.worker("w")

    def handler(job: rr.Job[dict[str, int]]) -> None:
        pass

    r.job("j", handler, queue="q")
    return r


@pytest.mark.parametrize("kwargs, message", [
    ({}, "schedule 's': give exactly one of cron and every"),
    ({"cron": "* * * * *", "every": 5}, "schedule 's': give exactly one of cron and every"),
    ({"every": 0}, "schedule 's': every must be a duration > 0, got 0.0"),
    ({"cron": "* * *"}, "schedule 's': cron expression '* * *' has 3 fields; expected 5 "
                        "(minute hour day-of-month month day-of-week)"),
    ({"every": 5, "timezone": "Mars/Base"}, "schedule 's': unknown time zone 'Mars/Base' "
                                            "(use an IANA name such as 'Europe/Berlin' or 'UTC')"),
    ({"every": 5, "catch_up": "some"}, "schedule 's': catch_up must be one of latest, all, "
                                       "none, got 'some'"),
    ({"every": 5, "overlap": "no"}, "schedule 's': overlap must be one of allow, skip, got 'no'"),
    ({"every": 5, "grace": -1}, "schedule 's': grace must be a duration >= 0, got -1"),
])
def test_schedule_refuses_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(rr.ConfigError) as exc:
        registry().schedule("s", "j", **kwargs)  # type: ignore[arg-type]
    assert str(exc.value) == message


@pytest.mark.parametrize("job, kwargs, message", [
    ("nope", {}, "schedule 's': unknown job 'nope'"),
    ("j", {"queue": "other"}, "schedule 's': unknown queue 'other'"),
    ("j", {"payload": {"a": "x"}}, "schedule 's': payload: j: a: Input should be a valid "
                                   "integer, unable to parse string as an integer"),
])
def test_freeze_refuses_bad_references(job: str, kwargs: dict[str, object], message: str) -> None:
    r = registry().schedule("s", job, every=5, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(rr.ConfigError) as exc:
        r.freeze()
    assert str(exc.value) == message


def test_a_schedule_without_queue_fires_into_its_jobs_queue() -> None:
    r = registry().schedule("s", "j", every=5).freeze()
    assert r.schedules["s"].queue == "q"
    assert r.schedule_spec("s").when == "every 5s"
    with pytest.raises(rr.RegistryFrozen):
        r.schedule("t", "j", every=5)
    with pytest.raises(rr.UnknownName, match="unknown schedule 'x'"):
        r.schedule_spec("x")


def test_freeze_refuses_a_schedule_on_a_driver_that_cannot_fire_once() -> None:
    from runa_runner.drivers.amqp import AMQPDriver

    r = rr.Registry().driver("rabbit", AMQPDriver("amqp://guest:guest@127.0.0.1:5672/"))
    r.queue("q", driver="rabbit", workers=["w"]).worker("w")
    r.job("j", lambda job: None, queue="q").schedule("s", "j", every=5)
    with pytest.raises(rr.ConfigError) as exc:
        r.freeze()
    assert str(exc.value) == ("schedule 's': driver 'rabbit' (type amqp) cannot fire schedules "
                              "(it lacks the 'schedules' capability)")
