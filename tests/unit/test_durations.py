"""The duration grammar: ``100ms``, ``5s``, ``1h30m``, ``7d`` or a number of seconds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runa_runner.durations import (
    UNITS,
    DurationError,
    format_duration,
    is_duration,
    parse_duration,
)
from runa_runner.limits import MAX_DURATION


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("100ms", 0.1), ("5s", 5), ("2m", 120), ("24h", 86400), ("1h30m", 5400), ("7d", 604800),
     ("1w", 604800), ("1.5s", 1.5), (".5s", 0.5), ("0", 0), ("30", 30), (2.5, 2.5), (0, 0),
     ("500us", 0.0005), ("2µs", 2e-6), ("100ns", 1e-7), ("1s500ms", 1.5)],
)
def test_accepted(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "bad", ["", "s", "5 seconds", "5x", "-5s", "1h-30m", "m5", True, None, [], -1,
            math.inf, math.nan],
)
def test_refused(bad: object) -> None:
    with pytest.raises(DurationError):
        parse_duration(bad)
    assert not is_duration(bad)


parts = st.lists(
    st.tuples(st.integers(min_value=0, max_value=10_000), st.sampled_from(sorted(UNITS))),
    min_size=1, max_size=5,
)


@given(parts)
def test_parts_add_up(items: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in items)
    total = sum(n * UNITS[u] for n, u in items)
    if total > MAX_DURATION:
        with pytest.raises(DurationError, match="at most 10 years"):
            parse_duration(text)
    else:
        assert parse_duration(text) == pytest.approx(total)


@pytest.mark.parametrize(
    ("value", "message"),
    [(1e308, "expected a duration of at most 10 years, got 1e+308"),
     ("1e30", "expected a duration of at most 10 years, got '1e30'"),
     ("522w", "expected a duration of at most 10 years, got '522w'"),
     (10**400, "expected a duration of at most 10 years, got a 1329-bit integer"),
     (-10**400, "expected a non-negative duration, got a negative 1329-bit integer"),
     (math.nan, "expected a duration, got nan"),
     ("1s" * 300, "invalid duration '1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s... "
                 "(expected e.g. '100ms', '5s', '2m', '24h', '1h30m')")],
)
def test_out_of_range_is_one_clear_error(value: object, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(value)
    assert str(caught.value) == message


def test_ten_years_is_the_longest_duration() -> None:
    assert parse_duration(MAX_DURATION) == MAX_DURATION
    assert parse_duration("3650d") == MAX_DURATION
    assert not is_duration(MAX_DURATION + 1)


@given(st.floats(min_value=0, max_value=MAX_DURATION, allow_nan=False))
def test_numbers_are_seconds(value: float) -> None:
    assert parse_duration(value) == value


@given(st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False))
def test_negative_numbers_are_refused(value: float) -> None:
    with pytest.raises(DurationError, match="non-negative"):
        parse_duration(value)


@given(st.integers(min_value=0, max_value=10**7))
def test_format_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


@given(st.text(max_size=12))
def test_never_raises_anything_but_duration_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except DurationError:
        return
    assert value >= 0 and math.isfinite(value)
