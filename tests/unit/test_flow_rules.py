"""The flow-control rules every driver shares (drivers/flow.py) and the builder's checks."""

from __future__ import annotations

import pytest

import runa_runner as rr
from runa_runner.drivers.flow import Flow, Hold, Rate, RateError, allowance, hold_of, parse_rate


@pytest.mark.parametrize(("text", "rate"), [
    ("10/1s", Rate(10, 1.0)), ("600/1m", Rate(600, 60.0)), ("1/1h", Rate(1, 3600.0)),
    (" 5 / 1s ", Rate(5, 1.0)), ("100000/1s", Rate(100_000, 1.0)),
])
def test_rates_parse(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate
    assert parse_rate(rate) is rate


@pytest.mark.parametrize("text", ["10/2s", "0/1s", "10/s", "10", "1/1d", "-1/1s",
                                  "100001/1s", "", 10])
def test_bad_rates_say_what_is_expected(text: object) -> None:
    with pytest.raises(RateError, match=r"expected a rate like '10/1s'"):
        parse_rate(text)


def test_str_of_a_rate_is_its_manifest_spelling() -> None:
    assert [str(parse_rate(t)) for t in ("10/1s", "3/1m", "7/1h")] == ["10/1s", "3/1m", "7/1h"]


def test_allowance_takes_the_tightest_limit() -> None:
    assert allowance(8, Flow(), 5, 5) == 8
    assert allowance(8, Flow(max_running=3), 1, 0) == 2
    assert allowance(8, Flow(rate=Rate(10, 1.0)), 0, 7) == 3
    assert allowance(8, Flow(max_running=3, rate=Rate(10, 1.0)), 0, 9) == 1
    assert allowance(8, Flow(max_running=2), 5, 0) == 0  # over (a limit lowered): none


def test_hold_reasons_and_when_a_rate_opens() -> None:
    flow = Flow(max_running=2, rate=Rate(10, 1.0))
    assert hold_of(flow, True, 0, 0, None, 100.0) == Hold("paused")
    assert hold_of(flow, False, 2, 0, None, 100.0) == Hold("max_running")
    hold = hold_of(flow, False, 1, 10, 99.25, 100.0)
    assert hold is not None and hold.reason == "rate"
    assert hold.retry_in == pytest.approx(0.25)
    assert hold.describe(flow) == "rate 10/1s reached"
    assert hold_of(flow, False, 1, 9, 99.25, 100.0) is None


def test_builder_checks_max_running_and_rate() -> None:
    r = rr.Registry()
    with pytest.raises(rr.ConfigError, match=r"queue 'a': max_running must be between 1 and"):
        r.queue("a", max_running=0)
    with pytest.raises(rr.ConfigError, match=r"queue 'a': rate: expected a rate like"):
        r.queue("a", rate="5 per second")
    r.queue("a", max_running=2, rate="5/1m")
    r.queue("b")
    r.freeze()
    assert r.queue_spec("a").flow == Flow(2, Rate(5, 60.0))
    assert r.queue_spec("b").flow is None  # the worker's hot path: no limits to pass
