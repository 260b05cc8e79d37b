"""``schedules:`` in the manifest: one validate line (FILE:LINE:COL) per bad key, and
what a good entry compiles to."""

from __future__ import annotations

from pathlib import Path

import pytest

from runa_runner.cli import main
from runa_runner.manifest import check_manifest, load_registry

HERE = Path(__file__).parent

HEAD = f"""\
app_dir: {HERE}
drivers:
  local: {{type: sqlite, path: q.db}}
  rabbit: {{type: amqp, url: "amqp://guest:guest@127.0.0.1:5672/"}}
queues:
  bulk: {{driver: local, workers: [w]}}
  rq: {{driver: rabbit, workers: [w]}}
workers:
  w: {{}}
jobs:
  page: {{handler: "sched_handlers:collect", queue: bulk}}
  rabbit.page: {{handler: "sched_handlers:anything", queue: rq}}
schedules:
"""
#: The line of the first schedule entry (1-based).
LINE = HEAD.count("\n") + 1


def lines(tmp_path: Path, entry: str, *, imports: bool = False) -> list[str]:
    path = tmp_path / "m.yaml"
    path.write_text(HEAD + entry)
    problems, _ = check_manifest(path, import_handlers=imports)
    return [p.format().removeprefix(f"{path}:") for p in problems]


# One test per bad key: (entry, expected problem lines without the file name).
BAD = {
    "job_unknown": ('  s: {job: pag, every: 1m}\n',
                    f"{LINE}:12: schedules.s.job: unknown job 'pag' (did you mean 'page'?)"),
    "job_missing": ('  s: {every: 1m}\n',
                    f"{LINE}:3: schedules.s: missing required key 'job'"),
    "queue_unknown": ('  s: {job: page, every: 1m, queue: bulkk}\n',
                      f"{LINE}:36: schedules.s.queue: unknown queue 'bulkk' (did you mean "
                      "'bulk'?)"),
    "cron_syntax": ('  s: {job: page, cron: "61 * * * *"}\n',
                    f"{LINE}:24: schedules.s.cron: invalid cron expression '61 * * * *': "
                    "Bad minute"),
    "cron_fields": ('  s: {job: page, cron: "0 0 2 * * *"}\n',
                    f"{LINE}:24: schedules.s.cron: cron expression '0 0 2 * * *' has 6 fields; "
                    "expected 5 (minute hour day-of-month month day-of-week)"),
    "cron_type": ('  s: {job: page, cron: 5}\n',
                  f"{LINE}:24: schedules.s.cron: expected a string, got 5"),
    "timezone": ('  s: {job: page, every: 1m, timezone: Europe/Berln}\n',
                 f"{LINE}:39: schedules.s.timezone: unknown time zone 'Europe/Berln' (use an "
                 "IANA name such as 'Europe/Berlin' or 'UTC')"),
    "every_zero": ('  s: {job: page, every: 0s}\n',
                   f"{LINE}:25: schedules.s.every: expected a duration > 0, got '0s'"),
    "every_syntax": ('  s: {job: page, every: often}\n',
                     f"{LINE}:25: schedules.s.every: invalid duration 'often' (expected e.g. "
                     "'100ms', '5s', '2m', '24h', '1h30m')"),
    "cron_and_every": ('  s: {job: page, every: 1m, cron: "* * * * *"}\n',
                       f"{LINE}:6: schedules.s: give exactly one of 'cron' and 'every'"),
    "neither": ('  s: {job: page}\n',
                f"{LINE}:6: schedules.s: give exactly one of 'cron' and 'every'"),
    "catch_up": ('  s: {job: page, every: 1m, catch_up: newest}\n',
                 f"{LINE}:39: schedules.s.catch_up: expected one of 'latest', 'all', 'none', "
                 "got 'newest'"),
    "overlap": ('  s: {job: page, every: 1m, overlap: never}\n',
                f"{LINE}:38: schedules.s.overlap: expected one of 'allow', 'skip', got 'never'"),
    "grace": ('  s: {job: page, every: 1m, grace: soon}\n',
              f"{LINE}:36: schedules.s.grace: invalid duration 'soon' (expected e.g. '100ms', "
              "'5s', '2m', '24h', '1h30m')"),
    "meta": ('  s: {job: page, every: 1m, meta: [1]}\n',
             f"{LINE}:35: schedules.s.meta: expected a mapping, got a list"),
    "unknown_key": ('  s: {job: page, every: 1m, cronn: "* * * * *"}\n',
                    f"{LINE}:29: schedules.s.cronn: unknown key 'cronn' (did you mean 'cron'?)"),
    "amqp_queue": ('  s: {job: rabbit.page, every: 1m}\n',
                   f"{LINE}:3: schedules.s: driver 'rabbit' (type amqp) of queue 'rq' cannot "
                   "fire schedules exactly once (it lacks the 'schedules' capability): put the "
                   "schedule on a queue of a memory, sqlite or redis driver"),
    "amqp_queue_named": ('  s: {job: page, every: 1m, queue: rq}\n',
                         f"{LINE}:36: schedules.s.queue: driver 'rabbit' (type amqp) of queue "
                         "'rq' cannot fire schedules exactly once (it lacks the 'schedules' "
                         "capability): put the schedule on a queue of a memory, sqlite or "
                         "redis driver"),
    "blank_name": ('  " ": {job: page, every: 1m}\n',
                   f"{LINE}:3: schedules. : a name must not be empty or blank"),
    "grace_too_long": ('  s: {job: page, every: 1m, grace: 20000d}\n',
                       f"{LINE}:36: schedules.s.grace: expected a duration of at most 10 years, "
                       "got '20000d'"),
    "schedules_not_mapping": ('  - s\n', f"{LINE}:3: schedules: expected a mapping, got a list"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_key_gives_one_located_line(tmp_path: Path, case: str) -> None:
    entry, expected = BAD[case]
    assert lines(tmp_path, entry) == [expected]


def test_payload_is_checked_against_the_handler_type(tmp_path: Path) -> None:
    entry = '  s:\n    job: page\n    every: 1m\n    payload: {cursor: "", size: big}\n'
    assert lines(tmp_path, entry) == []  # without imports the payload type is unknown
    assert lines(tmp_path, entry, imports=True) == [
        f"{LINE + 3}:33: schedules.s.payload.size: Input should be a valid integer, unable "
        "to parse string as an integer"]


def test_missing_payload_field_points_at_the_payload(tmp_path: Path) -> None:
    entry = '  s:\n    job: page\n    every: 1m\n    payload: {cursor: ""}\n'
    assert lines(tmp_path, entry, imports=True) == [
        f"{LINE + 3}:14: schedules.s.payload: size: Field required"]
    entry = '  s: {job: page, every: 1m}\n'  # no payload at all: {} is pushed
    assert lines(tmp_path, entry, imports=True) == [
        f"{LINE}:6: schedules.s: cursor: Field required",
        f"{LINE}:6: schedules.s: size: Field required"]


def test_validate_cli_prints_them_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m.yaml").write_text(HEAD + '  s: {job: page, cron: "* * *"}\n')
    assert main(["validate", "-c", str(tmp_path / "m.yaml")]) == 1
    out, err = capsys.readouterr()
    assert out == (f"{tmp_path / 'm.yaml'}:{LINE}:24: schedules.s.cron: cron expression "
                   "'* * *' has 3 fields; expected 5 (minute hour day-of-month month "
                   "day-of-week)\n")
    assert err == ""


def test_good_schedules_compile_into_the_registry(tmp_path: Path) -> None:
    entry = ('  nightly:\n    job: page\n    cron: "0 2 * * *"\n    timezone: Europe/Berlin\n'
             '    payload: {cursor: "", size: 1000}\n    catch_up: all\n    grace: 5m\n'
             '    overlap: skip\n    meta: {team: data}\n'
             '  tick: {job: page, every: 15m, queue: bulk, payload: {cursor: a, size: 1}}\n')
    path = tmp_path / "m.yaml"
    path.write_text(HEAD.replace("  rq: {driver: rabbit, workers: [w]}\n", "")
                    .replace('  rabbit.page: {handler: "sched_handlers:anything", queue: rq}\n',
                             "") + entry)
    registry = load_registry(path)
    nightly, tick = registry.schedules["nightly"], registry.schedules["tick"]
    assert (nightly.job, nightly.queue, nightly.cron, nightly.every, nightly.timezone) == (
        "page", "bulk", "0 2 * * *", None, "Europe/Berlin")
    assert (nightly.catch_up, nightly.grace, nightly.overlap, dict(nightly.meta)) == (
        "all", 300.0, "skip", {"team": "data"})
    assert nightly.payload == {"cursor": "", "size": 1000}
    assert (tick.every, tick.when, tick.catch_up, tick.grace, tick.overlap) == (
        900.0, "every 15m", "latest", 60.0, "allow")
    assert main(["validate", "-c", str(path)]) == 0
