"""Workers SIGKILLed mid-drain lose nothing: every job runs, none more than retry + 1 times.

Per durable driver, N jobs are drained by two ``runa-runner work w`` processes
(lease 2s, concurrency 16, retry 3) while the controller SIGKILLs a random one
five times, spread over the drain, and starts it again. A killed worker's jobs
come back when their lease lapses (SQLite, Redis) or when its connection drops
(AMQP) and run again, with ``attempt`` raised.

N is 10,000 on every driver (``RUNA_CHAOS_JOBS`` changes it).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable

import pytest

from .conftest import DRIVERS
from .harness import Figures, Project, settled, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

KILLS = 5
CONCURRENCY = 16
RETRY = 3
#: Seconds the whole drain may take once pushed (generous: the machine is shared).
DRAIN_DEADLINE = 240.0


def job_count() -> int:
    if os.environ.get("RUNA_CHAOS_JOBS"):
        return int(os.environ["RUNA_CHAOS_JOBS"])
    return 10_000


def await_runs(project: Project, count: int) -> None:
    wait_for(lambda: project.run_count() >= count,
             lambda: f"{count} runs (have {project.run_count()})", DRAIN_DEADLINE)


@pytest.mark.parametrize("kind", DRIVERS)
def test_sigkilled_workers_lose_nothing(kind: str, project_for: Callable[..., Project]) -> None:
    n = job_count()
    project = project_for(kind, retry=RETRY, lease="2s", concurrency=CONCURRENCY)
    started = time.monotonic()
    ids = project.push_jsonl("chaos.run", [{"n": i} for i in range(n)])
    assert len(set(ids)) == n
    pushed_in = time.monotonic() - started

    rng = random.Random(8)
    generation = [0, 0]
    workers = [project.start(0), project.start(1)]
    drain_start = time.monotonic()
    for k in range(1, KILLS + 1):
        # Spread the kills over the drain: the k-th once k/(KILLS+1) of the jobs have run.
        await_runs(project, n * k // (KILLS + 1))
        i = rng.randrange(2)
        workers[i].proc.send_signal(signal.SIGKILL)
        assert workers[i].proc.wait(10) == -signal.SIGKILL
        generation[i] += 1
        workers[i] = project.start(i, generation[i])

    def drained() -> bool:
        return len({job_id for job_id, _ in project.runs()}) == n and settled(project.queue())

    wait_for(drained, lambda: f"all {n} jobs run (have {len(set(project.runs()))}) and the "
             f"queue settled: {project.queue()}",
             DRAIN_DEADLINE)
    drained_in = time.monotonic() - drain_start
    for worker in workers:
        worker.proc.send_signal(signal.SIGTERM)
    for worker in workers:
        assert worker.proc.wait(30) == 0, "\n".join(worker.stderr())

    figures = Figures.of(project.runs())
    listing = project.listing()
    queue = next(q for q in listing["queues"] if q["name"] == "chaos")
    pool = next(w for w in listing["workers"] if w["name"] == "w")
    lost = n - figures.distinct
    print(f"\nchaos[{kind}]: jobs {n}, kills {KILLS}, restarts {KILLS}, lost {lost}, "
          f"runs {figures.runs}, duplicates {figures.duplicates}, max runs per job "
          f"{figures.max_runs}, max attempt {figures.max_attempt}, push {pushed_in:.1f}s, "
          f"drain {drained_in:.1f}s, succeeded counted {pool['succeeded']} "
          f"(lost to kills {n - pool['succeeded']}), instances left {pool['instances']}")

    assert lost == 0
    assert figures.max_runs <= RETRY + 1
    assert figures.max_attempt <= RETRY + 1
    assert settled(queue)
    assert queue["failed"] == 0
    # Killed instances never said goodbye: they count until their heartbeat expires.
    assert pool["instances"] <= KILLS
    # Every job's last run succeeded; runs cut by a kill never settle, so never count.
    assert pool["processed"] == pool["succeeded"] + pool["failed"] + pool["retried"]
    assert pool["failed"] == pool["retried"] == 0
    assert pool["processed"] <= figures.runs
    # Counters are written right after each settled batch, in a second driver call: a
    # SIGKILL between the two loses that batch's counts (at most `concurrency` jobs).
    assert n - KILLS * CONCURRENCY <= pool["succeeded"] <= n
