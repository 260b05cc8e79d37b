"""``runa-runner work`` when things break: a driver down at start (then up), a signal while
still starting, a side task that dies, and a burst held by a sync thread that never returns.

The Redis tests use a private ``redis-server`` on a free port, started by the test
itself (never the shared server).
"""

from __future__ import annotations

import signal
from pathlib import Path

from chaos.servers import RedisServer, free_port

from .conftest import Project, message, wait_for

REDIS_MANIFEST = """\
drivers:
  q: {{type: redis, url: "{url}", prefix: "accfault:"}}
queues:
  main: {{driver: q, workers: [main]}}
workers:
  main: {{concurrency: 1, poll_interval: 50ms}}
jobs:
  note.record: {{handler: "acc_handlers:record", queue: main}}
"""

SLOW_IMPORT_MANIFEST = """\
default_driver: local
drivers:
  local: {type: sqlite, path: .runa/queue.db}
queues:
  main: {workers: [main]}
workers:
  main: {concurrency: 1, poll_interval: 50ms}
jobs:
  slow: {handler: "slow_import:handle", queue: main}
"""

SLOW_IMPORT = """\
import time
from pathlib import Path

Path(__file__).with_name("importing").touch()
time.sleep(2)  # a heavy handler module: the signal arrives while it loads


async def handle(job):
    pass
"""

BREAKING_MANIFEST = """\
default_driver: local
drivers:
  local: {type: sqlite, path: .runa/queue.db}
queues:
  main: {workers: [main]}
workers:
  main: {concurrency: 1, poll_interval: 50ms, stop_timeout: 30s}
jobs:
  break.stats: {handler: "breaking:break_stats", queue: main}
"""

BREAKING = """\
import runa_runner as rr


async def broken(worker, delta):
    raise RuntimeError("stats store broke")


async def break_stats(job):
    # A driver bug as a worker would meet it: its next stats write raises.
    rr.default().drivers["local"].add_stats = broken
"""


def project_with(root: Path, manifest: str, **modules: str) -> Project:
    root.joinpath("jobs.yaml").write_text(manifest, encoding="utf-8")
    for name, text in modules.items():
        root.joinpath(f"{name}.py").write_text(text, encoding="utf-8")
    return Project(root, manifest=None)


def redis_project(root: Path, url: str) -> Project:
    p = project_with(root, REDIS_MANIFEST.format(url=url))
    p.root.joinpath("acc_handlers.py").write_text(
        Path(__file__).with_name("handlers_src.py").read_text(encoding="utf-8"), encoding="utf-8")
    return p


def test_work_waits_for_a_redis_that_is_down_then_starts_once_it_is_up(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder)  # a free port, nothing listening yet
    (tmp_path / "project").mkdir()
    project = redis_project(tmp_path / "project", server.url)
    worker = project.start("main")
    try:
        down = worker.wait_line("unavailable")
        label = f"driver 'q' ({server.url})"
        assert message(down).startswith(f"worker main: {label} unavailable, retrying "
                               "with backoff: ")
        assert not any("started" in line for line in worker.stderr)
        server.start()
        worker.wait_line("worker main started")
        assert worker.messages() == [
            message(down),
            f"worker main: {label} available",
            f"worker main started (queues: main; concurrency 1; driver q "
            f"{server.url})",
        ]
        project.push("note.record", {"text": "after the outage"})
        project.wait_lines("record.log", lambda lines: lines == ["after the outage"])
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
    finally:
        worker.close()
        server.stop()


def test_sigterm_while_waiting_for_the_driver_exits_0(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    project = redis_project(tmp_path, url)
    worker = project.start("main")
    try:
        down = worker.wait_line("unavailable")
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
        assert worker.messages() == [
            message(down),
            "SIGTERM received: stopping gracefully (send it again to stop at once)",
            "worker main stopped before it started",
        ]
    finally:
        worker.close()


def test_sigterm_while_handlers_load_exits_0(tmp_path: Path) -> None:
    project = project_with(tmp_path, SLOW_IMPORT_MANIFEST, slow_import=SLOW_IMPORT)
    worker = project.start("main")
    try:
        wait_for(lambda: (tmp_path / "importing").exists(), "the handler module to load")
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
        assert worker.messages() == [
            "SIGTERM received: stopping gracefully (send it again to stop at once)",
            "worker main stopped before it started",
        ]
    finally:
        worker.close()


def test_a_side_task_that_dies_logs_its_traceback_and_work_exits_1(tmp_path: Path) -> None:
    project = project_with(tmp_path, BREAKING_MANIFEST, breaking=BREAKING)
    project.push("break.stats", {})
    worker = project.start("main")
    try:
        assert worker.wait() == 1
    finally:
        worker.close()
    lines = worker.messages()
    header = ("worker main: side task 'settler' died unexpectedly "
              "(RuntimeError: stats store broke); stopping the worker")
    assert header in lines, lines
    at = lines.index(header)
    assert lines[at + 1] == "Traceback (most recent call last):"
    assert "RuntimeError: stats store broke" in lines[at + 2:]
    assert lines[-1] == (
        "worker main stopped: side task 'settler' died unexpectedly "
        "(RuntimeError: stats store broke); its running jobs were released "
        "(processed 1: 1 succeeded, 0 failed, 0 retried)")
    assert sum(line == "Traceback (most recent call last):" for line in lines) == 1


def test_burst_gives_up_on_a_stuck_sync_thread_after_stop_timeout(project: Project) -> None:
    job_id = project.push("nap.sync", {"tag": "z", "seconds": 60}, "--timeout", "200ms",
                          "--retry", "0")
    done = project.run("work", "hasty", "--burst", ok=False, timeout=30)
    assert done.returncode == 1, done.stderr
    assert message(done.stderr.splitlines()[-1]) == (
        "worker hasty stopped after stop_timeout (0.3s): abandoned 1 sync "
        "handler thread(s) still running past their timeout, whose jobs were already settled "
        "(processed 1: 0 succeeded, 1 failed, 0 retried)")
    info = project.json("job", job_id)
    assert (info["state"], info["error"]) == ("failed", "timed out after 0.2s")

