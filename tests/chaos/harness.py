"""The chaos tier's plumbing: a project folder per test, its manifest per driver, worker
processes started and killed from the outside, and the run records the handlers leave.

Everything waits on conditions with deadlines (never a fixed sleep standing in for an event).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

EXE = shutil.which("runa-runner") or "runa-runner"

MANIFEST = """\
default_driver: store
drivers:
  store: {driver}
queues:
  chaos: {{workers: [w], retry: {retry}, retry_delay: 0s{queue_extra}}}
workers:
  w: {{concurrency: {concurrency}, lease: {lease}, poll_interval: 50ms, stop_timeout: 10s}}
jobs:
  chaos.run: {{handler: "chaos_handlers:record", queue: chaos}}
  chaos.typed: {{handler: "chaos_handlers:typed", queue: chaos}}
"""


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RUNA_CONFIG", "PYTHONPATH")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_for(condition: Callable[[], bool], what: Callable[[], str] | str,
             deadline: float) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            said = what() if callable(what) else what
            pytest.fail(f"timed out after {deadline:g}s waiting for {said}")
        time.sleep(0.05)


@dataclass
class Target:
    """Where a chaos project keeps its jobs: the manifest's driver line and a cleanup."""

    kind: str
    driver: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])


def sqlite_target() -> Target:
    return Target("sqlite", "{type: sqlite, path: queue.db}")


def redis_target(url: str) -> Target:
    t = Target("redis", "")
    t.driver = f'{{type: redis, url: "{url}", prefix: "chaos:{t.tag}:"}}'
    return t


def amqp_target(url: str) -> Target:
    t = Target("amqp", "")
    t.driver = f'{{type: amqp, url: "{url}", exchange: "chaos-{t.tag}", prefix: "chaos.{t.tag}."}}'
    return t


def postgres_target(url: str) -> Target:
    t = Target("postgres", "")
    t.driver = f'{{type: postgres, url: "{url}", schema: "chaos_{t.tag}"}}'
    return t


class Worker:
    """``runa-runner work w`` in the background, its stderr kept in a file."""

    def __init__(self, root: Path, index: int, generation: int, *args: str) -> None:
        self.log = root / f"worker-{index}-{generation}.err"
        self._err = self.log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen([EXE, "work", "w", *args], cwd=root, env=environment(),
                                     stdout=subprocess.DEVNULL, stderr=self._err)

    def stderr(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._err.close()


class Project:
    """A folder with a chaos manifest and handlers; runs the CLI and reads the records."""

    def __init__(self, root: Path, target: Target, *, retry: int = 3, lease: str = "2s",
                 concurrency: int = 16, queue_extra: str = "") -> None:
        self.root = root
        self.target = target
        self.retry = retry
        root.joinpath("jobs.yaml").write_text(MANIFEST.format(
            driver=target.driver, retry=retry, lease=lease, concurrency=concurrency,
            queue_extra=queue_extra), encoding="utf-8")
        shutil.copy(Path(__file__).with_name("chaos_handlers.py"), root / "chaos_handlers.py")
        self.workers: list[Worker] = []
        self.outputs: list[str] = []

    def run(self, *args: str, stdin: str | None = None, ok: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([EXE, *args], cwd=self.root, env=environment(), input=stdin,
                              capture_output=True, text=True, timeout=timeout, check=False)
        self.outputs += [proc.stdout, proc.stderr]
        if ok and proc.returncode != 0:
            pytest.fail(f"runa-runner {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    def push_jsonl(self, job: str, payloads: list[Any]) -> list[str]:
        path = self.root / "payloads.jsonl"
        path.write_text("".join(json.dumps(p) + "\n" for p in payloads), encoding="utf-8")
        return self.run("push", job, "--jsonl", str(path)).stdout.split()

    def listing(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.run("list", "--json").stdout)
        return data

    def queue(self, name: str = "chaos") -> dict[str, Any]:
        return next(q for q in self.listing()["queues"] if q["name"] == name)

    def start(self, index: int, generation: int = 0, *args: str) -> Worker:
        worker = Worker(self.root, index, generation, *args)
        self.workers.append(worker)
        return worker

    def runs(self) -> list[tuple[str, int]]:
        """Every recorded run: (job id, attempt), over all worker processes."""
        out: list[tuple[str, int]] = []
        for path in sorted((self.root / "out").glob("runs.*")):
            for line in path.read_text(encoding="utf-8").splitlines():
                job_id, attempt = line.split()
                out.append((job_id, int(attempt)))
        return out

    def run_count(self) -> int:
        """About how many runs were recorded (a line is 29 bytes), without reading the files."""
        out = self.root / "out"
        return sum(p.stat().st_size for p in out.glob("runs.*")) // 29 if out.exists() else 0

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


def settled(counts: dict[str, Any]) -> bool:
    """Nothing waiting, delayed or held (None: a count the driver cannot make, e.g. AMQP's
    reserved; the broker returns a dead connection's deliveries, and pending shows them)."""
    return counts["pending"] == 0 and counts["delayed"] in (0, None) \
        and counts["reserved"] in (0, None)


@dataclass(frozen=True)
class Figures:
    """What a chaos run measured, printed for the issue's note."""

    runs: int
    distinct: int
    max_runs: int
    max_attempt: int
    duplicates: int

    @classmethod
    def of(cls, runs: list[tuple[str, int]]) -> Figures:
        per_job = Counter(job_id for job_id, _ in runs)
        return cls(runs=len(runs), distinct=len(per_job),
                   max_runs=max(per_job.values(), default=0),
                   max_attempt=max((a for _, a in runs), default=0),
                   duplicates=len(runs) - len(per_job))
