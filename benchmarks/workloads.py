"""What every benchmark target shares: the no-op handler, the pusher harness, processes,
peak RSS sampling, reading the handlers' timestamps, and median/min/max.

Every target (runa-runner on a driver, or a peer library) is a folder with a generated
``bench_app.py`` (its handler) and ``bench_push.py`` (its pusher). The handler of every
target does the same thing: it appends one line ``<time.time()> <payload t>`` to the file
named by ``$BENCH_OUT`` (one ``os.write`` on an ``O_APPEND`` descriptor, so lines of
threads and forked children never interleave). Drain rates and latencies are read from
that file, so they are measured the same way for every target.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The handlers' shared preamble: one timestamp line per job run.
RECORD = '''
import os as _os
import time as _time

_FD = _os.open(_os.environ["BENCH_OUT"], _os.O_WRONLY | _os.O_APPEND | _os.O_CREAT, 0o644)
TO = "user@example.com"


def record(t=0.0):
    _os.write(_FD, b"%.6f %.6f\\n" % (_time.time(), t))
'''

#: The pushers' shared main. The target's part defines ``async def open_target(mode)``
#: returning ``(enqueue, enqueue_many, close)``; enqueue_many may be None.
PUSH_MAIN = '''

async def _main():
    import asyncio, json, sys, time
    mode, n = sys.argv[1], int(sys.argv[2])
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    enqueue, enqueue_many, close = await open_target(mode)
    t0 = time.perf_counter()
    if mode == "bulk":
        await enqueue_many(n)
    elif mode == "latency":
        for i in range(n):
            await enqueue(i, time.time())
            await asyncio.sleep(interval)
    else:
        for i in range(n):
            await enqueue(i, 0.0)
    seconds = time.perf_counter() - t0
    await close()
    print(json.dumps({"seconds": seconds}))
'''

#: Runs ``_main`` when the pusher is executed (targets with extra modes write their own).
MAIN_GUARD = '''

if __name__ == "__main__":
    import asyncio as _asyncio
    _asyncio.run(_main())
'''


class BenchFailed(Exception):
    """A step of one target could not be measured (the message says why)."""


@dataclass
class Target:
    """One thing under test: where its files live and how its worker starts."""

    name: str
    app_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return self.app_dir / "out.txt"

    def child_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env, "BENCH_OUT": str(self.out)}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(self.app_dir), env.get("PYTHONPATH", "")) if p
        )
        return env

    def reset_out(self) -> None:
        self.out.write_bytes(b"")


def write_files(app_dir: Path, files: dict[str, str]) -> None:
    app_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (app_dir / name).write_text(text)


def run_pusher(target: Target, mode: str, n: int, interval: float = 0.0,
               timeout: float = 600.0) -> float:
    """Run ``bench_push.py MODE N`` of a target; the seconds its loop took."""
    argv = [sys.executable, "bench_push.py", mode, str(n), str(interval)]
    proc = subprocess.run(argv, cwd=target.app_dir, env=target.child_env(),
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise BenchFailed(f"pusher '{mode}' exited {proc.returncode}: {last_line(proc.stderr)}")
    seconds: float = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
    return seconds


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


class Worker:
    """A worker subprocess in its own session, with its peak RSS sampled."""

    def __init__(self, target: Target, argv: list[str]) -> None:
        self.target = target
        self.log = target.app_dir / "worker.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                argv, cwd=target.app_dir, env=target.child_env(), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.peak_rss = 0
        #: (time.time(), RSS bytes) every 50 ms: how memory moved during the run.
        self.rss_samples: list[tuple[float, int]] = []
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
        except psutil.Error:
            return
        while self._sampling:
            try:
                procs = [root, *root.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in procs)
            except psutil.Error:
                return
            self.peak_rss = max(self.peak_rss, rss)
            self.rss_samples.append((time.time(), rss))
            time.sleep(0.05)

    def wait_lines(self, count: int, timeout: float) -> None:
        """Wait until the handlers recorded ``count`` lines (or the worker ends)."""
        deadline = time.monotonic() + timeout
        while count_lines(self.target.out) < count:
            if self.proc.poll() is not None and count_lines(self.target.out) < count:
                raise BenchFailed(f"worker exited {self.proc.returncode} after "
                                  f"{count_lines(self.target.out)}/{count} jobs: "
                                  f"{last_line(self.log.read_text(errors='replace'))}")
            if time.monotonic() > deadline:
                raise BenchFailed(f"timed out after {timeout:.0f}s with "
                                  f"{count_lines(self.target.out)}/{count} jobs run")
            time.sleep(0.02)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise BenchFailed(f"worker still running after {timeout:.0f}s") from None

    def stop(self) -> None:
        """SIGTERM (a graceful stop for every target), SIGKILL after 15 s."""
        self._sampling = False
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def read_records(path: Path) -> list[tuple[float, float]]:
    out = []
    for line in path.read_text().splitlines():
        started, pushed = line.split()
        out.append((float(started), float(pushed)))
    return out


def drain_rate(path: Path, expected: int) -> float:
    """Jobs/s from the first job's start to the last job's start (no-op handlers)."""
    starts = sorted(started for started, _ in read_records(path))
    if len(starts) < expected:
        raise BenchFailed(f"only {len(starts)}/{expected} jobs ran")
    span = starts[-1] - starts[0]
    return (len(starts) - 1) / span if span > 0 else float("inf")


def latencies(path: Path) -> list[float]:
    """Push -> start seconds of the jobs that carried a push time."""
    return sorted(started - pushed for started, pushed in read_records(path) if pushed > 0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class Spread:
    """Median with min and max over the repeats."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread | None:
        return cls(statistics.median(values), min(values), max(values)) if values else None
