"""The acceptance tier: the installed ``runa-runner`` run as a subprocess on real manifests.

Each test gets a project folder (``tmp_path``) holding ``jobs.yaml`` (SQLite driver,
relative path, so the database lives in the folder) and ``acc_handlers.py``; commands
run with that folder as the working directory, exactly as a user would run them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

EXE = shutil.which("runa-runner") or "runa-runner"
#: Seconds any single wait may take before the test fails (generous: the machine is shared).
DEADLINE = 20.0

MANIFEST = """\
default_driver: local
drivers:
  local: {type: sqlite, path: .runa/queue.db}
queues:
  main: {workers: [main]}
  fragile: {workers: [main], retry: 2, retry_delay: 0s}
  naps: {workers: [patient, hasty], retry: 1, retry_delay: 0s}
  scratch: {driver: memory, workers: [main]}
workers:
  main: {concurrency: 4, poll_interval: 50ms}
  patient: {concurrency: 1, lease: 1s, poll_interval: 50ms, stop_timeout: 20s}
  hasty: {concurrency: 1, lease: 1s, poll_interval: 50ms, stop_timeout: 300ms}
jobs:
  note.record: {handler: "acc_handlers:record", queue: main}
  note.explode: {handler: "acc_handlers:explode", queue: fragile}
  nap: {handler: "acc_handlers:nap", queue: naps}
  nap.sync: {handler: "acc_handlers:doze", queue: naps}
  note.scratch: {handler: "acc_handlers:record", queue: scratch}
"""


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RUNA_CONFIG", "PYTHONPATH")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Project:
    """A folder with a manifest and handlers, and ways to run ``runa-runner`` in it."""

    def __init__(self, root: Path, manifest: str | None = MANIFEST) -> None:
        """With ``manifest`` None, the folder already holds its manifest and handlers."""
        self.root = root
        self.out = root / "out"
        if manifest is not None:
            root.joinpath("jobs.yaml").write_text(manifest, encoding="utf-8")
            shutil.copy(Path(__file__).with_name("handlers_src.py"), root / "acc_handlers.py")
        self.workers: list[Worker] = []

    def run(self, *args: str, stdin: str | None = None, ok: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run one command to completion; with ``ok`` it must exit 0."""
        proc = subprocess.run([EXE, *args], cwd=self.root, env=environment(), input=stdin,
                              capture_output=True, text=True, timeout=timeout, check=False)
        if ok and proc.returncode != 0:
            pytest.fail(f"runa-runner {' '.join(args)} exited {proc.returncode}:\n"
                        f"{proc.stderr}")
        return proc

    def push(self, job: str, payload: Any, *options: str) -> str:
        return self.run("push", job, "--json", json.dumps(payload), *options).stdout.strip()

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def queue(self, name: str) -> dict[str, Any]:
        queues: list[dict[str, Any]] = self.json("list")["queues"]
        return next(q for q in queues if q["name"] == name)

    def worker_stats(self, name: str) -> dict[str, Any]:
        workers: list[dict[str, Any]] = self.json("list")["workers"]
        return next(w for w in workers if w["name"] == name)

    def lines(self, name: str) -> list[str]:
        path = self.out / name
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    def wait_lines(self, name: str, predicate: Callable[[list[str]], bool]) -> list[str]:
        """Poll an ``out/`` file until ``predicate(lines)`` holds (fails after DEADLINE)."""
        wait_for(lambda: predicate(self.lines(name)), f"out/{name}: {self.lines(name)}")
        return self.lines(name)

    def start(self, *args: str) -> Worker:
        """Start ``runa-runner work ARGS`` in the background (stopped at teardown)."""
        worker = Worker([EXE, "work", *args], self.root)
        self.workers.append(worker)
        return worker


class Worker:
    """A background ``runa-runner work`` process whose stderr is collected line by line."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd, env=environment(), text=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def wait_line(self, text: str) -> str:
        """The first stderr line containing ``text`` (fails after DEADLINE)."""
        def found() -> bool:
            return any(text in line for line in self.stderr)

        wait_for(found, f"stderr line {text!r}; got {self.stderr}")
        return next(line for line in self.stderr if text in line)

    def messages(self) -> list[str]:
        """The stderr lines so far, log lines reduced to their messages."""
        return [message(line) for line in self.stderr]

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = DEADLINE) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def close(self) -> None:
        """Kill the process if it still runs and release its pipe."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


#: What ``work`` puts before each record's message in its text lines (README "Observability").
LOG_PREFIX = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
                        r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: ")


def message(line: str) -> str:
    """A ``work`` log line without its time, level and logger (other lines unchanged)."""
    return LOG_PREFIX.sub("", line, count=1) if LOG_PREFIX.match(line) else line


def wait_for(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline:g}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = Project(tmp_path)
    yield p
    for worker in p.workers:
        worker.close()


#: The sqlite driver line of MANIFEST, which ``driver_project`` swaps for another driver.
SQLITE_DRIVER = "local: {type: sqlite, path: .runa/queue.db}"


@pytest.fixture(params=["sqlite", "postgres"])
def driver_project(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str,
                   require_service: Callable[[str], None]) -> Iterator[Project]:
    """``project`` with its durable driver parametrised: SQLite, and PostgreSQL (a schema
    of its own, dropped after; skipped, or failed under CI, when PostgreSQL is down)."""
    manifest = MANIFEST
    schema = f"acc_{uuid.uuid4().hex[:12]}"
    if request.param == "postgres":
        require_service("postgres")
        manifest = MANIFEST.replace(
            SQLITE_DRIVER, f'local: {{type: postgres, url: "{postgres_url}", schema: {schema}}}')
    p = Project(tmp_path, manifest)
    yield p
    for worker in p.workers:
        worker.close()
    if request.param == "postgres":
        drop_schema(postgres_url, schema)


def drop_redis_keys(url: str, match: str) -> None:
    """Delete the Redis keys a test left, those matching the SCAN pattern ``match``."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=match, count=500))
    if keys:
        client.delete(*keys)
    client.close()


def drop_schema(url: str, schema: str) -> None:
    """Drop the PostgreSQL schema a test's driver made, and everything in it."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(autouse=True)
def _installed() -> None:
    if shutil.which("runa-runner") is None:
        pytest.fail(f"runa-runner is not installed on PATH ({sys.executable} -m pip install -e .)")
