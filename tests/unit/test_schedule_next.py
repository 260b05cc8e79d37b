"""``schedule next`` over the 2027 DST changes: Debian cron's rules, written out.

2027 changes: Europe/Berlin springs forward on 28 March (02:00 CET -> 03:00 CEST) and
falls back on 31 October (03:00 CEST -> 02:00 CET); America/New_York springs forward on
14 March (02:00 EST -> 03:00 EDT) and falls back on 7 November (02:00 EDT -> 01:00 EST).
Debian cron: a time skipped by spring-forward fires once, at the first instant after the
gap; a time repeated by fall-back fires once, at its first occurrence; an expression
with a wildcard hour follows real time (it fires in both copies of a repeated hour).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runa_runner.cli import main

SCHEDULES = {
    "berlin.daily": ('"30 2 * * *"', "Europe/Berlin"),
    "berlin.half": ('"*/30 * * * *"', "Europe/Berlin"),
    "berlin.two": ('"0 2 * * *"', "Europe/Berlin"),
    "ny.daily": ('"30 2 * * *"', "America/New_York"),
    "ny.early": ('"30 1 * * *"', "America/New_York"),
    "ny.hourly": ('"0 * * * *"', "America/New_York"),
    "utc.every": (None, "UTC"),
}


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    lines = ["jobs:", "  j: {handler: 'json:dumps'}", "schedules:"]
    for name, (cron, zone) in SCHEDULES.items():
        when = f"cron: {cron}" if cron else "every: 90m"
        lines.append(f"  {name}: {{job: j, {when}, timezone: {zone}}}")
    path = tmp_path / "jobs.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def slots(manifest: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["schedule", "next", *args, "-c", str(manifest)]) == 0
    return capsys.readouterr().out.splitlines()


CASES = {
    # Spring forward: 02:30 does not exist on 28 March; it fires once at 03:00 CEST.
    "berlin_spring_skipped_time": (
        ["berlin.daily", "--from", "2027-03-26T12:00:00+01:00", "--count", "4"],
        ["2027-03-27T02:30:00+01:00", "2027-03-28T03:00:00+02:00",
         "2027-03-29T02:30:00+02:00", "2027-03-30T02:30:00+02:00"]),
    "berlin_spring_gap_start": (
        ["berlin.two", "--from", "2027-03-27T12:00:00", "--count", "2"],
        ["2027-03-28T03:00:00+02:00", "2027-03-29T02:00:00+02:00"]),
    # Fall back: 02:30 happens twice on 31 October; it fires once, the first time (CEST).
    "berlin_fall_repeated_time": (
        ["berlin.daily", "--from", "2027-10-30T12:00:00+02:00", "--count", "3"],
        ["2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00",
         "2027-11-02T02:30:00+01:00"]),
    # Asked from inside the second 02:xx hour, the day's 02:30 already fired.
    "berlin_fall_from_second_copy": (
        ["berlin.daily", "--from", "2027-10-31T02:10:00+01:00", "--count", "1"],
        ["2027-11-01T02:30:00+01:00"]),
    # Hour wildcard: real time, so both copies of 02:00-02:59 fire.
    "berlin_fall_wildcard_hour": (
        ["berlin.half", "--from", "2027-10-31T01:45:00+02:00", "--count", "6"],
        ["2027-10-31T02:00:00+02:00", "2027-10-31T02:30:00+02:00",
         "2027-10-31T02:00:00+01:00", "2027-10-31T02:30:00+01:00",
         "2027-10-31T03:00:00+01:00", "2027-10-31T03:30:00+01:00"]),
    "berlin_spring_wildcard_hour": (
        ["berlin.half", "--from", "2027-03-28T01:15:00+01:00", "--count", "3"],
        ["2027-03-28T01:30:00+01:00", "2027-03-28T03:00:00+02:00",
         "2027-03-28T03:30:00+02:00"]),
    "ny_spring_skipped_time": (
        ["ny.daily", "--from", "2027-03-13T00:00:00", "--count", "3"],
        ["2027-03-13T02:30:00-05:00", "2027-03-14T03:00:00-04:00",
         "2027-03-15T02:30:00-04:00"]),
    "ny_fall_repeated_time": (
        ["ny.early", "--from", "2027-11-06T00:00:00", "--count", "3"],
        ["2027-11-06T01:30:00-04:00", "2027-11-07T01:30:00-04:00",
         "2027-11-08T01:30:00-05:00"]),
    "ny_fall_wildcard_hour": (
        ["ny.hourly", "--from", "2027-11-07T00:30:00-04:00", "--count", "4"],
        ["2027-11-07T01:00:00-04:00", "2027-11-07T01:00:00-05:00",
         "2027-11-07T02:00:00-05:00", "2027-11-07T03:00:00-05:00"]),
    "ny_spring_wildcard_hour": (
        ["ny.hourly", "--from", "2027-03-14T00:30:00", "--count", "3"],
        ["2027-03-14T01:00:00-05:00", "2027-03-14T03:00:00-04:00",
         "2027-03-14T04:00:00-04:00"]),
    # every: multiples of 90 minutes since the epoch (UTC), whatever --from's offset.
    "every_aligned_to_epoch": (
        ["utc.every", "--from", "2027-03-28T01:00:00+02:00", "--count", "3"],
        ["2027-03-28T00:00:00+00:00", "2027-03-28T01:30:00+00:00",
         "2027-03-28T03:00:00+00:00"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_dst_slots_follow_debian_cron(
    manifest: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    args, expected = CASES[case]
    assert slots(manifest, capsys, *args) == expected


def test_json_is_a_list_of_the_same_strings(
    manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["berlin.daily", "--from", "2027-03-27T12:00:00+01:00", "--count", "2", "--json"]
    assert json.loads("\n".join(slots(manifest, capsys, *args))) == [
        "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"]


def test_default_count_is_five_and_from_defaults_to_now(
    manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    got = slots(manifest, capsys, "utc.every")
    assert len(got) == 5
    assert all(t.endswith("+00:00") for t in got)


def test_unknown_schedule_exits_1_with_one_line(
    manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schedule", "next", "berlin.dayly", "-c", str(manifest)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("runa-runner: error: unknown schedule 'berlin.dayly' "
                   "(did you mean 'berlin.daily'?)\n")


@pytest.mark.parametrize("args", [["--from", "tomorrow"], ["--count", "0"], ["--count", "x"]])
def test_bad_options_are_usage_errors(
    manifest: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["schedule", "next", "utc.every", *args, "-c", str(manifest)])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
