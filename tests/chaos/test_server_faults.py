"""Server faults mid-drain: Redis shut down and restarted (AOF on), RabbitMQ connections
closed and its app stopped and started, PostgreSQL stopped (immediate: no checkpoint, the
WAL is replayed) and started. Every acknowledged job runs; the worker reconnects by itself
and logs one line per outage, not a flood.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .harness import Project, Target, Worker, postgres_target, redis_target, settled, wait_for
from .servers import PostgresServer, RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

JOBS = 3000
DEADLINE = 60.0
#: Seconds a server stays down.
OUTAGE = 5.0


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    made: list[RedisServer] = []

    def make(*extra: str) -> RedisServer:
        folder = tmp_path / f"redis-{len(made)}"
        folder.mkdir()
        server = RedisServer(folder, *extra)
        server.start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


def per_worker(lines: list[str]) -> list[str]:
    """The lines about the worker and its drivers, without the per-job records (retries,
    runs that lost their lease) that INFO logging adds: the caps below are about floods of
    outage lines, not about how many jobs an outage touched."""
    return [line for line in lines if "job chaos.run " not in line]


def outage_lines(worker: Worker) -> list[str]:
    return [line for line in worker.stderr() if "unavailable" in line]


def wait_outage_noticed(worker: Worker) -> None:
    wait_for(lambda: bool(outage_lines(worker)),
             lambda: f"the worker noticing the outage: {worker.stderr()}", 30)


def drain(project: Project, n: int, worker: Worker) -> None:
    def done() -> bool:
        return len({job_id for job_id, _ in project.runs()}) == n and settled(project.queue())

    wait_for(done, lambda: f"{n} jobs run (have {len({j for j, _ in project.runs()})}): "
             f"{project.queue()}; worker stderr:\n" + "\n".join(worker.stderr()), DEADLINE)


def test_redis_restart_mid_drain_loses_nothing_acknowledged(
    tmp_path: Path, private_redis: Callable[..., RedisServer]
) -> None:
    server = private_redis()
    root = tmp_path / "project"
    root.mkdir()
    project = Project(root, redis_target(server.url), retry=3, lease="2s")
    try:
        started = time.monotonic()
        ids = project.push_jsonl("chaos.run", [{"n": i} for i in range(JOBS)])
        assert len(ids) == JOBS  # acknowledged: push returned every id
        worker = project.start(0)
        wait_for(lambda: project.run_count() >= JOBS // 4, "a quarter of the jobs run", DEADLINE)
        server.shutdown()
        down = time.monotonic()
        wait_for(lambda: bool(outage_lines(worker)),
                 lambda: f"the worker noticing the outage: {worker.stderr()}", 30)
        # The outage lasts OUTAGE seconds (longer than a lease): a deliberate fault length.
        wait_for(lambda: time.monotonic() - down >= OUTAGE, "the outage to last", 30)
        server.start()
        drain(project, JOBS, worker)
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(30) == 0, "\n".join(worker.stderr())
        lines = worker.stderr()
        runs = project.runs()
        print(f"\nredis restart: jobs {JOBS}, lost {JOBS - len({j for j, _ in runs})}, "
              f"runs {len(runs)}, time {time.monotonic() - started:.1f}s, worker stderr "
              f"{len(lines)} lines:\n" + "\n".join(lines))
        assert {job_id for job_id, _ in runs} == set(ids)
        # Exactly one line when the outage began and one when it ended (a call that was
        # under way as the server went down does not end it), a summary of lapsed leases,
        # start and stop: bounded, whatever the outage's length or the jobs in flight.
        # Known gap: a pooled connection opened before the restart may fail once more
        # after the driver is back ("Connection closed by server"), which logs a second
        # short down/up pair; never more, and every down has its up.
        downs = len(outage_lines(worker))
        assert 1 <= downs <= 2, lines
        assert len([line for line in lines if line.endswith(" available again")]) == downs, lines
        assert len(per_worker(lines)) <= 10, lines
    finally:
        project.close()


def test_redis_warns_when_it_may_evict_jobs(
    tmp_path: Path, private_redis: Callable[..., RedisServer]
) -> None:
    lru = private_redis("--maxmemory-policy", "allkeys-lru")
    safe = private_redis("--maxmemory-policy", "noeviction")
    for server, warned in ((lru, True), (safe, False)):
        root = tmp_path / f"p{server.port}"
        root.mkdir()
        project = Project(root, redis_target(server.url))
        worked = project.run("work", "w", "--burst")
        said = [line for line in worked.stderr.splitlines() if "maxmemory-policy" in line]
        assert len(said) == (1 if warned else 0), worked.stderr
        if warned:
            assert "allkeys-lru" in said[0] and "noeviction" in said[0]


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


def test_postgres_restart_mid_drain_loses_nothing(
    tmp_path: Path, private_postgres: PostgresServer
) -> None:
    server = private_postgres
    root = tmp_path / "project"
    root.mkdir()
    project = Project(root, postgres_target(server.url), retry=3, lease="2s")
    try:
        started = time.monotonic()
        ids = project.push_jsonl("chaos.run", [{"n": i} for i in range(JOBS)])
        assert len(ids) == JOBS  # committed: push returned every id
        workers = [project.start(0), project.start(1)]
        wait_for(lambda: project.run_count() >= JOBS // 4, "a quarter of the jobs run", DEADLINE)
        server.stop("immediate")
        down = time.monotonic()
        for worker in workers:
            wait_outage_noticed(worker)
        wait_for(lambda: time.monotonic() - down >= OUTAGE, "the outage to last", 30)
        server.start()
        drain(project, JOBS, workers[0])
        for worker in workers:
            worker.proc.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.proc.wait(30) == 0, "\n".join(worker.stderr())
        runs = project.runs()
        print(f"\npostgres restart: jobs {JOBS}, lost {JOBS - len({j for j, _ in runs})}, "
              f"runs {len(runs)}, time {time.monotonic() - started:.1f}s")
        for worker in workers:
            lines = worker.stderr()
            print(f"worker stderr, {len(lines)} lines:\n" + "\n".join(lines))
        assert {job_id for job_id, _ in runs} == set(ids)
        for worker in workers:
            lines = worker.stderr()
            assert len(outage_lines(worker)) == 1, lines
            assert len([line for line in lines if "available again" in line]) == 1, lines
            assert len(per_worker(lines)) <= 10, lines
    finally:
        project.close()


def rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.parametrize("fault", ["close_connections", "restart_app"])
def test_rabbitmq_faults_mid_drain_lose_nothing(
    fault: str, project_for: Callable[..., Project], make_target: Callable[[str], Target]
) -> None:
    project = project_for("amqp", retry=3)
    started = time.monotonic()
    ids = project.push_jsonl("chaos.run", [{"n": i} for i in range(JOBS)])
    worker = project.start(0)
    wait_for(lambda: project.run_count() >= JOBS // 4, "a quarter of the jobs run", DEADLINE)
    try:
        if fault == "close_connections":
            done = rabbitmqctl("close_all_connections", "chaos")
        else:
            done = rabbitmqctl("stop_app")
            wait_for(lambda: bool(outage_lines(worker)),
                     lambda: f"the worker noticing the outage: {worker.stderr()}", 30)
    finally:
        if fault == "restart_app":
            restarted = rabbitmqctl("start_app")
            assert restarted.returncode == 0, restarted.stderr
    assert done.returncode == 0, done.stderr
    drain(project, JOBS, worker)
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(30) == 0, "\n".join(worker.stderr())
    lines = worker.stderr()
    runs = project.runs()
    print(f"\nrabbitmq {fault}: jobs {JOBS}, lost {JOBS - len({j for j, _ in runs})}, runs "
          f"{len(runs)}, time {time.monotonic() - started:.1f}s, worker stderr {len(lines)} "
          "lines:\n" + "\n".join(lines))
    assert {job_id for job_id, _ in runs} == set(ids)
    ours = [line for line in per_worker(lines) if not is_client_noise(line)]
    assert len([line for line in ours if "lost" in line or "unavailable" in line]) <= 2, ours
    assert len(ours) <= 10, ours
    # The client libraries' own lines about an outage we already report are dropped.
    assert [line for line in lines if is_client_noise(line)] == []


#: The time, level and logger before each message of a ``work`` log line.
LOG_PREFIX = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z [A-Z]+ +[\w.]+: ")


def message(line: str) -> str:
    return LOG_PREFIX.sub("", line, count=1)


#: Lines the AMQP client libraries log on their own (and their tracebacks).
CLIENT_NOISE = ("Unexpected connection close", "Cancelling cause reader", "Callback <",
                "Traceback", "Task exception", "  ")


def is_client_noise(line: str) -> bool:
    """A client library's own record, or a line that is no log record (a traceback's)."""
    if not LOG_PREFIX.match(line):
        return True
    return message(line).startswith(CLIENT_NOISE)
