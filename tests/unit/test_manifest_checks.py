"""Timing cross-checks (warnings), capability errors and ``validate --explain``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runa_runner.cli import main
from runa_runner.manifest import check_manifest


def lines(tmp_path: Path, text: str, *, imports: bool = False) -> list[str]:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    problems, _ = check_manifest(path, import_handlers=imports)
    return [p.format().removeprefix(f"{path}:") for p in problems]


def test_stop_timeout_shorter_than_a_timeout(tmp_path: Path) -> None:
    assert lines(tmp_path, "queues:\n  bulk: {timeout: 5m}\nworkers:\n  default: {}\n") == [
        "4:3: warning: workers.default: stop_timeout 30s of worker 'default' is shorter than "
        "the longest timeout of its queues (5m, queue 'bulk'): a stop cancels such jobs and "
        "releases them"
    ]


def test_retry_schedule_outlives_retention(tmp_path: Path) -> None:
    text = ("queues:\n  q: {retry: 10, retry_delay: 1h, retention: 5h}\n"
            "  e: {retry: 4, retry_delay: 1m, retry_backoff: exponential}\n")
    assert lines(tmp_path, text) == [
        "2:46: warning: queues.q.retention: the retry schedule of queue 'q' (10 retries over "
        "10h) outlives retention 5h"
    ]
    text = "queues:\n  q: {retry: 20, retry_delay: 1h, retention: 0}\n"
    assert lines(tmp_path, text) == []  # 0 keeps failed jobs forever


def test_timeout_beyond_amqp_consumer_timeout(tmp_path: Path) -> None:
    text = ("drivers:\n  rabbit: {type: amqp, consumer_timeout: 10m}\n"
            "queues:\n  q: {driver: rabbit, timeout: 15m}\n"
            "workers:\n  default: {stop_timeout: 1h}\n")
    found = lines(tmp_path, text)
    assert ("4:32: warning: queues.q.timeout: timeout 15m exceeds the consumer_timeout 10m of "
            "amqp driver 'rabbit': RabbitMQ closes the channel of a job running that long") in found


AMQP = """\
drivers:
  rabbit: {type: amqp}
queues:
  q: {driver: rabbit, workers: [w]}
workers:
  w: {lease: 10s, stop_timeout: 1m}
jobs:
"""


def test_amqp_timeout_beyond_the_lease_is_not_a_lease_problem(tmp_path: Path) -> None:
    # AMQP cannot renew, but it has no lease either: the channel holds a delivery until
    # its ack, so only RabbitMQ's consumer_timeout bounds a run.
    text = AMQP + "  j: {handler: 'a:b', queue: q, timeout: 20s}\n"
    assert lines(tmp_path, text) == []


def test_unique_needs_the_capability(tmp_path: Path) -> None:
    text = AMQP + "  j: {handler: 'a:b', queue: q, unique_until: start}\n"
    assert lines(tmp_path, text) == [
        "8:47: jobs.j.unique_until: driver 'rabbit' (type amqp) cannot do unique jobs "
        "(it lacks the 'unique' capability)"
    ]


def test_driver_config_is_built_at_validate(tmp_path: Path) -> None:
    text = "drivers:\n  r: {type: redis, url: 'redis://127.0.0.1:1/0'}\n  s: {type: sqlite}\n"
    assert lines(tmp_path, text, imports=True) == []  # built, never connected
    assert not (tmp_path / ".runa").exists()


def test_unquoted_env_values_are_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNA_TEST_WORKERS", "8")
    path = tmp_path / "m.yaml"
    path.write_text("workers:\n  default:\n    concurrency: ${RUNA_TEST_WORKERS}\n"
                    "    meta: {a: '${RUNA_TEST_WORKERS}'}\n")
    problems, doc = check_manifest(path)
    assert problems == [] and doc is not None
    assert doc.body["workers"]["default"] == {"concurrency": 8, "meta": {"a": "8"}}


def test_worker_serving_no_queue_is_a_warning(tmp_path: Path) -> None:
    text = "queues:\n  q: {workers: [a]}\nworkers:\n  a: {}\n  b: {}\n"
    assert lines(tmp_path, text) == ["5:3: warning: workers.b: worker 'b' serves no queue"]


def test_warnings_keep_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("queues:\n  q: {timeout: 1m}\n")
    assert main(["validate", "-c", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}:2:16: warning: queues.q.timeout: stop_timeout 30s of")
    assert out[1] == f"{path}: ok (0 drivers, 1 queue, 1 worker, 0 jobs, 1 warning)"


EXPLAIN = """\
queues:
  critical: {workers: [critical], retry: 3, retry_delay: 5s, meta: {team: ops, tier: 1}}
workers:
  critical: {concurrency: 8, lease: 1m}
jobs:
  mail.send: {handler: "examples.mail:send_email", queue: critical, timeout: 20s,
              meta: {tier: 0}}
"""


def test_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(EXPLAIN)
    assert main(["validate", "--no-import", "-c", str(path), "--explain", "mail.send"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "job mail.send",
        "handler            examples.mail:send_email  (job mail.send)",
        "queue              critical                  (job mail.send)",
        "driver             local                     (default)",
        "workers            critical                  (queue critical)",
        "retry              3                         (queue critical)",
        "retry_delay        5s                        (queue critical)",
        "retry_backoff      fixed                     (default)",
        "retry_max_delay    none                      (default)",
        "timeout            20s                       (job mail.send)",
        "retention          7d                        (default)",
        "max_payload_bytes  none                      (default)",
        "unique_until       done                      (default)",
        "unique_for         none                      (default)",
        "concurrency        8                         (worker critical)",
        "poll_interval      100ms                     (default)",
        "lease              1m                        (worker critical)",
        "stop_timeout       30s                       (default)",
        'meta.team          "ops"                     (queue critical)',
        "meta.tier          0                         (job mail.send)",
    ]


def test_explain_unknown_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(EXPLAIN)
    assert main(["validate", "--no-import", "-c", str(path), "--explain", "mail.snd"]) == 1
    assert capsys.readouterr().err == (
        "runa-runner: error: unknown job 'mail.snd' (did you mean 'mail.send'?)\n")


def test_explain_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(EXPLAIN)
    argv = ["validate", "--no-import", "-c", str(path), "--explain", "mail.send", "--format",
            "json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"setting": "retry", "value": "3", "source": "queue critical"} in rows
