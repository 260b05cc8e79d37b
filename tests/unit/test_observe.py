"""Observability pieces without I/O: log formatting and tagging, the worker metrics
observer's labels, addresses, and the spans of a push and its runs (in-memory exporter)."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from prometheus_client import generate_latest

import runa_runner as rr
from runa_runner.drivers.base import Outcome
from runa_runner.errors import ConfigError
from runa_runner.job import Envelope
from runa_runner.observe import logs, running
from runa_runner.observe.metrics import Names, WorkerMetrics
from runa_runner.observe.prom import parse_address


def record(msg: str = "hello", level: int = logging.INFO, **extra: Any) -> logging.LogRecord:
    rec = logging.LogRecord("obs.test", level, __file__, 1, msg, (), None)
    rec.created, rec.msecs = 1_800_000_000.25, 250.0
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_a_json_line_has_the_contract_fields_in_order_and_none_it_lacks() -> None:
    line = logs.JsonFormatter().format(record(
        "job failed", logging.WARNING, event="job.failed", worker="w", queue="q", job="j",
        id="i", attempt=2, duration=0.5, error="E: x"))
    assert list(json.loads(line)) == ["ts", "level", "logger", "message", "event", "worker",
                                      "queue", "job", "id", "attempt", "duration", "error"]
    assert json.loads(line)["ts"] == "2027-01-15T08:00:00.250Z"
    assert json.loads(logs.JsonFormatter().format(record())) == {
        "ts": "2027-01-15T08:00:00.250Z", "level": "INFO", "logger": "obs.test",
        "message": "hello"}


def test_a_text_line_has_time_level_logger_and_the_fields_its_message_lacks() -> None:
    fmt = logs.TextFormatter()
    assert fmt.format(record()) == "2027-01-15T08:00:00.250Z INFO    obs.test: hello"
    ours = record("job j i retried", event="job.retried", job="j", id="i", attempt=1,
                  duration=0.0123)
    assert fmt.format(ours).endswith("obs.test: job j i retried [duration=0.012s]")
    handlers = record("handled", job="j", id="i", attempt=3)
    assert fmt.format(handlers).endswith("obs.test: handled [job=j id=i attempt=3]")


async def test_records_made_during_a_run_are_tagged_with_its_job() -> None:
    seen: list[logging.LogRecord] = []
    tag = running.tagging("w")
    job = rr.Job(id="i1", name="j", queue="q", payload=None, attempt=2, max_attempts=3,
                 meta={}, enqueued_at=0.0, timeout=None)

    async def handler(_: Any) -> None:
        rec = record()
        logs.JobFilter().filter(rec)
        seen.append(rec)

    await tag(job, handler)
    untagged = record()
    logs.JobFilter().filter(untagged)
    assert [(r.worker, r.queue, r.job, r.id, r.attempt) for r in seen] == [  # type: ignore[attr-defined]
        ("w", "q", "j", "i1", 2)]
    assert not hasattr(untagged, "job")


def test_setup_sends_a_level_to_the_stream_in_the_chosen_format() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    before = root.level, list(root.handlers)
    try:
        logs.setup("WARNING", "json", stream)
        logs.setup("WARNING", "json", stream)  # twice: still one handler
        logging.getLogger("obs.mine").info("not shown")
        logging.getLogger("obs.mine").warning("shown")
        assert [json.loads(x)["message"] for x in stream.getvalue().splitlines()] == ["shown"]
    finally:
        for h in root.handlers[:]:
            if h.get_name() == logs.HANDLER_NAME:
                root.removeHandler(h)
        root.setLevel(before[0])


# ---- worker metrics ----------------------------------------------------------------

def env(job: str = "j", queue: str = "q", id: str = "i") -> Envelope:
    return Envelope(id=id, queue=queue, job=job, payload=None, attempt=1)


def outcome(kind: Any, give_back: bool = False) -> Outcome:
    return Outcome("q", "i", "t", kind, give_back_attempt=give_back)


def exposition(m: WorkerMetrics) -> str:
    return generate_latest(m.registry).decode()


def test_labels_come_from_the_manifest_only() -> None:
    m = WorkerMetrics(Names(["q"], ["j"], ["d"]), ["w"], {"w": ["d"]})
    m.on_started("w", env(job="evil\"job", id="a"))
    m.on_settled("w", env(job="evil\"job", id="a"), outcome("ack"), True, 0.01)
    m.on_pushed("q", "j", ["x", "y"])
    text = exposition(m)
    assert 'runa_jobs_total{job="<other>",outcome="succeeded",queue="q",worker="w"} 1.0' in text
    assert "evil" not in text
    assert 'runa_jobs_pushed_total{job="j",queue="q"} 2.0' in text


def test_released_and_unheld_runs_count_no_outcome_and_in_flight_follows_runs() -> None:
    m = WorkerMetrics(Names(["q"], ["j"], ["d"]), ["w"], {"w": ["d"]})
    for i in "abcd":
        m.on_started("w", env(id=i))
    assert 'runa_jobs_in_flight{worker="w"} 4.0' in exposition(m)
    m.on_settled("w", env(id="a"), outcome("release", give_back=True), True, 0.1)
    m.on_settled("w", env(id="b"), outcome("fail"), False, 0.1)
    m.on_lease_lost("w", env(id="c"))
    m.on_settled("w", env(id="d"), outcome("release"), True, 0.1)
    text = exposition(m)
    assert 'runa_jobs_in_flight{worker="w"} 0.0' in text
    assert 'runa_jobs_total{job="j",outcome="retried",queue="q",worker="w"} 1.0' in text
    assert 'runa_jobs_total{job="j",outcome="failed",queue="q",worker="w"} 0.0' in text
    assert 'runa_jobs_total{job="j",outcome="succeeded",queue="q",worker="w"} 0.0' in text
    assert "released" not in text
    assert 'runa_job_duration_seconds_count{job="j",queue="q",worker="w"} 1.0' in text
    assert 'runa_lease_lost_total{queue="q",worker="w"} 1.0' in text


def test_driver_up_follows_the_outage_of_a_named_driver() -> None:
    m = WorkerMetrics(Names(["q"], ["j"], ["d", "e"]), ["w"], {"w": ["d", "e"]})
    assert 'runa_driver_up{driver="d"} 1.0' in exposition(m)
    m.on_driver_down("w", "d", OSError("refused"))
    assert 'runa_driver_up{driver="d"} 0.0' in exposition(m)
    assert 'runa_driver_up{driver="e"} 1.0' in exposition(m)
    m.on_driver_up("w", "d")
    assert 'runa_driver_up{driver="d"} 1.0' in exposition(m)


def test_two_workers_metrics_in_one_process_do_not_clash() -> None:
    a = WorkerMetrics(Names(["q"], ["j"], ["d"]), ["w"])
    b = WorkerMetrics(Names(["q"], ["j"], ["d"]), ["w"])
    a.on_pushed("q", "j", ["x"])
    assert "runa_jobs_pushed_total{" in exposition(a)
    assert "runa_jobs_pushed_total{" not in exposition(b)


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:80", ("::1", 80)),
    (":9000", ("0.0.0.0", 9000)), ("localhost:0", ("localhost", 0)),
])
def test_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["9464", "host:", "host:port", "h:70000", ""])
def test_bad_addresses(text: str) -> None:
    with pytest.raises(ConfigError, match=r"address must be HOST:PORT \(e\.g\. 127\.0\.0\.1"):
        parse_address(text)


def test_the_example_alerts_name_only_metrics_that_exist() -> None:
    import re
    from pathlib import Path

    import yaml

    folder = Path(__file__).parents[2] / "examples" / "prometheus"
    rules = yaml.safe_load((folder / "alerts.yml").read_text(encoding="utf-8"))
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    named = {m for e in exprs for m in re.findall(r"\brun[a]_\w+", e)}
    assert "runa_queue_oldest_pending_seconds" in named
    assert named <= {"runa_jobs_total", "runa_job_duration_seconds", "runa_jobs_in_flight",
                     "runa_jobs_pushed_total", "runa_lease_lost_total", "runa_queue_jobs",
                     "runa_queue_oldest_pending_seconds", "runa_worker_instances",
                     "runa_driver_up", "runa_schedule_fires_total",
                     "runa_schedule_lateness_seconds"}
    scrape = yaml.safe_load((folder / "prometheus.yml").read_text(encoding="utf-8"))
    assert scrape["rule_files"] == ["alerts.yml"]


def test_schedule_fires_are_counted_by_result_with_the_last_lateness() -> None:
    m = WorkerMetrics(Names(["q"], ["j"], ["d"], ["nightly"]), ["w"])
    m.on_schedule_fired("nightly", 0.0, "id1", 0.25)
    m.on_schedule_fired("nightly", 60.0, "id2", 0.5)
    m.on_schedule_skipped("nightly", 120.0, "id2")
    m.on_schedule_missed("nightly", 300.0, 3)
    m.on_schedule_fired("gone", 0.0, "id3", 1.0)
    text = exposition(m)
    assert 'runa_schedule_fires_total{result="fired",schedule="nightly"} 2.0' in text
    assert 'runa_schedule_fires_total{result="skipped",schedule="nightly"} 1.0' in text
    assert 'runa_schedule_fires_total{result="missed",schedule="nightly"} 3.0' in text
    assert 'runa_schedule_lateness_seconds{schedule="nightly"} 0.5' in text
    assert 'runa_schedule_fires_total{result="fired",schedule="<other>"} 1.0' in text
