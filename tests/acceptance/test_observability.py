"""Observability as an operator meets it (DESIGN §11): ``work --metrics`` scraped after
real jobs, ``runa-runner metrics`` against ``list --json``, and the log lines of ``work``.

The worker metrics run on SQLite and Redis: two jobs succeed, one is retried then fails
for good, a handler pushes one job, and one run loses its lease because an operator
purged its queue under it. Every counter and histogram count is then read from the
worker's own ``/metrics``.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import runa_runner as rr

from .conftest import DEADLINE, EXE, Project, Worker, environment, wait_for

HANDLERS = '''
import asyncio
import logging
from pathlib import Path

import runa_runner as rr

OUT = Path(__file__).parent / "out"
log = logging.getLogger("obs.handlers")


def mark(name, line):
    OUT.mkdir(exist_ok=True)
    with open(OUT / name, "a", encoding="utf-8") as fh:
        fh.write(line + "\\n")


async def ok(job):
    log.info("handled %s", job.payload["n"])
    mark("ok.log", str(job.payload["n"]))


async def flaky(job):
    mark("flaky.log", str(job.attempt))
    raise RuntimeError(f"boom {job.attempt}\\nsecond line of the error")


async def fanout(job):
    await rr.default().push("ok", {"n": "from fanout"})


async def hang(job):
    mark("hang.log", "started")
    await asyncio.sleep(60)
'''

MANIFEST = """\
default_driver: d
drivers:
  d: {driver}
queues:
  work: {{workers: [main], retry: 1, retry_delay: 0s}}
  slow: {{workers: [main]}}
workers:
  main: {{concurrency: 4, lease: 1s, poll_interval: 50ms}}
jobs:
  ok: {{handler: "obs_handlers:ok", queue: work}}
  flaky: {{handler: "obs_handlers:flaky", queue: work}}
  fanout: {{handler: "obs_handlers:fanout", queue: work}}
  hang: {{handler: "obs_handlers:hang", queue: slow}}
"""

SERVING = re.compile(r"serving metrics on (http://\S+/metrics)")


def make_project(root: Path, driver: str) -> Project:
    root.joinpath("jobs.yaml").write_text(MANIFEST.format(driver=driver), encoding="utf-8")
    root.joinpath("obs_handlers.py").write_text(HANDLERS, encoding="utf-8")
    return Project(root, manifest=None)


@pytest.fixture(params=["sqlite", "redis"])
def obs_project(request: pytest.FixtureRequest, tmp_path: Path,
                require_service: Callable[[str], None], redis_url: str) -> Iterator[Project]:
    if request.param == "redis":
        require_service("redis")
        driver = f'{{type: redis, url: "{redis_url}", prefix: "obs-{uuid.uuid4().hex[:8]}:"}}'
    else:
        driver = "{type: sqlite, path: .runa/queue.db}"
    project = make_project(tmp_path, driver)
    yield project
    for worker in project.workers:
        worker.close()
    purge(tmp_path, "work", "slow")


def purge(root: Path, *queues: str) -> int:
    """Delete every job of ``queues`` (an operator's API call); how many were deleted."""
    async def main() -> int:
        registry = rr.load(str(root / "jobs.yaml"), import_handlers=False)
        try:
            return sum([await registry.purge(q) for q in queues])
        finally:
            await registry.close()

    return asyncio.run(main())


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``url`` as {(name, sorted labels): value}."""
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def metrics_url(worker: Worker) -> str:
    match = SERVING.search(worker.wait_line("serving metrics on"))
    assert match is not None
    return match.group(1)


def test_work_metrics_count_every_outcome_after_real_jobs(obs_project: Project) -> None:
    p = obs_project
    (p.root / "out").mkdir()
    worker = p.start("main", "--metrics", "127.0.0.1:0")
    url = metrics_url(worker)
    worker.wait_line("worker main started")

    p.push("ok", {"n": 1})
    p.push("ok", {"n": 2})
    p.push("flaky", {})
    p.push("fanout", {})
    p.push("hang", {})
    p.wait_lines("hang.log", lambda lines: lines == ["started"])
    assert purge(p.root, "slow") == 1  # the run's lease is gone under it

    def settled() -> bool:
        s = scrape(url)
        return (sample(s, "runa_lease_lost_total", worker="main", queue="slow") == 1
                and sample(s, "runa_jobs_total", worker="main", queue="work", job="ok",
                           outcome="succeeded") == 3
                and sample(s, "runa_jobs_total", worker="main", queue="work", job="flaky",
                           outcome="failed") == 1)

    wait_for(settled, f"the worker's metrics to count every run: {scrape(url)}")
    s = scrape(url)
    jobs = {k: v for k, v in s.items() if k[0] == "runa_jobs_total" and v}
    assert jobs == {
        ("runa_jobs_total", (("job", "ok"), ("outcome", "succeeded"), ("queue", "work"),
                             ("worker", "main"))): 3,
        ("runa_jobs_total", (("job", "flaky"), ("outcome", "retried"), ("queue", "work"),
                             ("worker", "main"))): 1,
        ("runa_jobs_total", (("job", "flaky"), ("outcome", "failed"), ("queue", "work"),
                             ("worker", "main"))): 1,
        ("runa_jobs_total", (("job", "fanout"), ("outcome", "succeeded"), ("queue", "work"),
                             ("worker", "main"))): 1,
    }
    for job, runs in (("ok", 3), ("flaky", 2), ("fanout", 1)):
        labels = {"worker": "main", "queue": "work", "job": job}
        assert sample(s, "runa_job_duration_seconds_count", **labels) == runs
        assert sample(s, "runa_job_duration_seconds_bucket", le="900.0", **labels) == runs
        assert sample(s, "runa_job_duration_seconds_bucket", le="0.005", **labels) is not None
    # the hung run never settled: no duration, no outcome
    assert sample(s, "runa_job_duration_seconds_count", worker="main", queue="slow",
                  job="hang") is None
    assert sample(s, "runa_jobs_pushed_total", queue="work", job="ok") == 1  # by fanout
    assert sample(s, "runa_lease_lost_total", worker="main", queue="slow") == 1
    assert sample(s, "runa_jobs_in_flight", worker="main") == 0
    assert sample(s, "runa_driver_up", driver="d") == 1
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0


def test_nothing_listens_without_metrics(project: Project) -> None:
    done = project.run("work", "main", "--burst")
    assert "serving metrics" not in done.stderr


def test_a_taken_metrics_address_is_one_error_line(project: Project) -> None:
    worker = project.start("main", "--metrics", "127.0.0.1:0")
    taken = SERVING.search(worker.wait_line("serving metrics on"))
    assert taken is not None
    address = taken.group(1).removeprefix("http://").removesuffix("/metrics")
    proc = project.run("work", "main", "--burst", "--metrics", address, ok=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"runa-runner: error: cannot serve metrics on {address}: ")
    assert proc.stderr.count("\n") == 1
    bad = project.run("work", "main", "--metrics", "nowhere", ok=False)
    assert bad.returncode == 2 and "address must be HOST:PORT" in bad.stderr


def test_json_logs_show_a_retry_and_a_final_failure_with_their_fields(tmp_path: Path) -> None:
    p = make_project(tmp_path, "{type: sqlite, path: .runa/queue.db}")
    job_id = p.push("flaky", {})
    done = p.run("work", "main", "--burst", "--log-format", "json")
    records = [json.loads(line) for line in done.stderr.splitlines()]
    by_event = {r.get("event"): r for r in records}
    retried, failed = by_event["job.retried"], by_event["job.failed"]
    for record, attempt, level in ((retried, 1, "INFO"), (failed, 2, "WARNING")):
        assert record["level"] == level
        assert record["worker"] == "main" and record["queue"] == "work"
        assert record["job"] == "flaky" and record["id"] == job_id
        assert record["attempt"] == attempt
        assert isinstance(record["duration"], float) and record["duration"] >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])
        assert record["logger"] == "runa_runner.worker"
    assert retried["error"] == "RuntimeError: boom 1"  # the first line only
    assert failed["error"].startswith("RuntimeError: boom 2\nsecond line of the error")
    assert "Traceback" not in done.stderr  # the traceback is DEBUG
    assert by_event["worker.started"]["worker"] == "main"
    assert by_event["worker.stopped"]["level"] == "INFO"


def test_the_traceback_of_a_final_failure_is_logged_at_debug(tmp_path: Path) -> None:
    p = make_project(tmp_path, "{type: sqlite, path: .runa/queue.db}")
    p.push("flaky", {}, "--retry", "0")
    done = p.run("work", "main", "--burst", "--log-level", "debug")
    assert re.search(r"WARNING runa_runner\.worker: job flaky \S+ failed for good after "
                     r"attempt 1/1: RuntimeError: boom 1 \[duration=\d+\.\d{3}s\]", done.stderr)
    assert "Traceback (most recent call last)" in done.stderr


def test_a_handlers_own_info_records_appear_tagged_with_the_job(tmp_path: Path) -> None:
    p = make_project(tmp_path, "{type: sqlite, path: .runa/queue.db}")
    job_id = p.push("ok", {"n": 7})
    text = p.run("work", "main", "--burst").stderr
    assert re.search(rf"\d\dZ INFO    obs\.handlers: handled 7 \[job=ok id={job_id} attempt=1\]",
                     text), text
    job_id = p.push("ok", {"n": 8})
    records = [json.loads(line) for line in
               p.run("work", "main", "--burst", "--log-format", "json").stderr.splitlines()]
    mine = [r for r in records if r["logger"] == "obs.handlers"]
    assert mine == [{"ts": mine[0]["ts"], "level": "INFO", "logger": "obs.handlers",
                     "message": "handled 8", "worker": "main", "queue": "work", "job": "ok",
                     "id": job_id, "attempt": 1}]
    quiet = p.run("work", "main", "--burst", "--log-level", "warning")
    assert quiet.stderr == ""


@pytest.fixture(params=["sqlite", "redis", "amqp"])
def any_driver(request: pytest.FixtureRequest, require_service: Callable[[str], None],
               redis_url: str, amqp_url: str) -> str:
    tag = uuid.uuid4().hex[:8]
    if request.param == "redis":
        require_service("redis")
        return f'{{type: redis, url: "{redis_url}", prefix: "obs-{tag}:"}}'
    if request.param == "amqp":
        require_service("amqp")
        return f'{{type: amqp, url: "{amqp_url}", prefix: "obs-{tag}.", exchange: "obs-{tag}"}}'
    return "{type: sqlite, path: .runa/queue.db}"


def test_the_metrics_command_serves_the_gauges_of_list(tmp_path: Path, any_driver: str) -> None:
    p = make_project(tmp_path, any_driver)
    with p.root.joinpath("jobs.yaml").open("a", encoding="utf-8") as fh:
        fh.write("  scratch: {handler: 'obs_handlers:ok', queue: scratch}\n")
    text = p.root.joinpath("jobs.yaml").read_text(encoding="utf-8")
    p.root.joinpath("jobs.yaml").write_text(text.replace(
        "queues:\n", "queues:\n  scratch: {driver: memory, workers: [main]}\n"), encoding="utf-8")
    try:
        p.push("flaky", {}, "--retry", "0")
        p.run("work", "main", "--burst")
        for n in range(3):
            p.push("ok", {"n": n})
        p.push("ok", {"n": "later"}, "--delay", "1h")
        exporter = Worker([EXE, "metrics", "--listen", "127.0.0.1:0"], p.root)
        p.workers.append(exporter)
        s = scrape(metrics_url(exporter))
        listed = p.json("list")
        for q in listed["queues"]:
            for state in ("pending", "delayed", "reserved", "failed"):
                assert sample(s, "runa_queue_jobs", queue=q["name"], state=state) == q[state], \
                    (q, state)
        for w in listed["workers"]:
            assert sample(s, "runa_worker_instances", worker=w["name"]) == w["instances"]
        work = next(q for q in listed["queues"] if q["name"] == "work")
        assert work["pending"] in (3, None)
        oldest = sample(s, "runa_queue_oldest_pending_seconds", queue="work")
        if "amqp" in any_driver:
            assert oldest is None  # RabbitMQ cannot say how old its oldest message is
        else:
            assert work["pending"] == 3 and work["delayed"] == 1 and work["failed"] == 1
            assert oldest is not None and 0 < oldest < 120
            assert sample(s, "runa_queue_oldest_pending_seconds", queue="slow") == 0
        assert sample(s, "runa_queue_jobs", queue="scratch", state="pending") is None
        assert sample(s, "runa_driver_up", driver="d") == 1
        assert sample(s, "runa_driver_up", driver="memory") is None  # out of this process
        exporter.signal(signal.SIGTERM)
        assert exporter.wait() == 0
    finally:
        for worker in p.workers:
            worker.close()
        purge(tmp_path, "work", "slow")


def test_list_watch_prints_a_snapshot_every_interval_off_a_terminal(project: Project) -> None:
    project.push("note.record", {"text": "x"})
    watcher = subprocess.Popen([EXE, "list", "--watch", "0.2"], cwd=project.root,
                               env=environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout is not None
        lines: list[str] = []
        while sum(line.startswith("QUEUE ") for line in lines) < 3:
            lines.append(watcher.stdout.readline().rstrip("\n"))
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=DEADLINE)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == 0, err
    once = project.run("list").stdout
    assert "\n".join(lines[:once.count("\n") + 1]) == once  # the same tables as list
    assert re.search(r"^main +local +main +1 ", "\n".join(lines), re.M)


def test_list_watch_redraws_in_place_on_a_terminal_and_ctrl_c_exits_0(project: Project) -> None:
    leader, follower = pty.openpty()
    watcher = subprocess.Popen([EXE, "list", "--watch", "0.2"], cwd=project.root,
                               env={**environment(), "TERM": "xterm", "COLUMNS": "120"},
                               stdout=follower, stderr=subprocess.PIPE, text=True)
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + DEADLINE
        while seen.count(b"WORKER ") < 3 and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.5)[0]:
                seen += os.read(leader, 65536)
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=DEADLINE)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
        os.close(leader)
    assert seen.count(b"WORKER ") >= 3, seen
    assert b"\x1b[2K" in seen and b"\x1b[1A" in seen  # cursor up, erase line: in place
    assert watcher.returncode == 0, err
