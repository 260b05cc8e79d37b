"""Load: 100,000 jobs queued on Redis, one ``runa-runner work`` at concurrency 200.

Sampled while it drains: the worker's RSS (memory stays bounded: jobs are reserved
only for free slots, never the whole queue), ``reserved`` (never above 200: no
prefetch hoarding) and how long ``list`` takes (in-process and as a command).
The worker drains the whole queue; every job must have run.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runa_runner.manifest import load_registry

from .harness import Project, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

JOBS = 100_000
CONCURRENCY = 200


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_100k_jobs_on_redis_at_concurrency_200(project_for: Callable[..., Project]) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("RSS is read from /proc")
    project = project_for("redis", concurrency=CONCURRENCY, lease="30s")
    registry = load_registry(project.root / "jobs.yaml", import_handlers=False)

    async def push() -> float:
        started = time.monotonic()
        ids = await registry.push_many("chaos.run", [{"n": i} for i in range(JOBS)])
        assert len(ids) == JOBS
        took = time.monotonic() - started
        await registry.close()
        return took

    pushed_in = asyncio.run(push())
    target = JOBS

    worker = project.start(0)
    peak_rss = max_reserved = 0.0
    list_times: list[float] = []
    started = time.monotonic()
    deadline = started + 300
    while project.run_count() < target:
        assert worker.proc.poll() is None, "\n".join(worker.stderr())
        assert time.monotonic() < deadline, f"only {project.run_count()} runs in 300s"
        peak_rss = max(peak_rss, rss_mb(worker.proc.pid))
        t0 = time.monotonic()
        queue = project.queue()
        list_times.append(time.monotonic() - t0)
        max_reserved = max(max_reserved, queue["reserved"])
    drained_in = time.monotonic() - started
    runs = project.run_count()
    end_rss = rss_mb(worker.proc.pid)
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(60) == 0, "\n".join(worker.stderr())
    wait_for(lambda: project.queue()["reserved"] == 0, "reserved back to 0", 30)
    assert len({job_id for job_id, _ in project.runs()}) == JOBS

    print(f"\nload[redis]: jobs {JOBS}, push_many {pushed_in:.1f}s ({JOBS / pushed_in:.0f}/s), "
          f"ran {runs} in {drained_in:.1f}s ({runs / drained_in:.0f}/s) at concurrency "
          f"{CONCURRENCY}; worker RSS peak {peak_rss:.0f} MB, at end {end_rss:.0f} MB; "
          f"reserved max {max_reserved:.0f}; `list --json` {len(list_times)} samples, "
          f"max {max(list_times):.2f}s, median {sorted(list_times)[len(list_times) // 2]:.2f}s "
          "(a whole CLI process: interpreter start included)")
    assert max_reserved <= CONCURRENCY
    assert peak_rss < 400
    assert max(list_times) < 5.0
