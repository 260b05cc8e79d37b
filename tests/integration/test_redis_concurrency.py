"""Racing reservers, pushers killed mid-flight, and worker processes on one Redis queue."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Outcome

from . import redis_procs
from .redis_support import QUEUE, Namespace, item

CTX = multiprocessing.get_context("spawn")


@pytest.fixture
async def ns(require_service: Callable[[str], None], redis_url: str) -> AsyncIterator[Namespace]:
    require_service("redis")
    space = Namespace(redis_url)
    yield space
    await space.cleanup()


def start(ns: Namespace, role: str, n: int, **args: Any) -> tuple[list[Any], Any, Any]:
    """Start ``n`` children playing ``role``; they meet the parent at a barrier."""
    barrier, results = CTX.Barrier(n + 1), CTX.Queue()
    procs = [CTX.Process(target=redis_procs.run,
                         args=(role, ns.url, ns.prefix, barrier, results,
                               {k: v[i] if isinstance(v, list) else v for k, v in args.items()}))
             for i in range(n)]
    for p in procs:
        p.start()
    return procs, barrier, results


def collect(procs: list[Any], results: Any) -> list[Any]:
    out = []
    for _ in procs:
        status, data = results.get(timeout=90)
        assert status == "ok", data
        out.append(data)
    for p in procs:
        p.join(30)
    return out


async def test_concurrent_reservers_in_one_process_never_share_a_job(ns: Namespace) -> None:
    drivers = [await ns.driver() for _ in range(4)]
    ids = []
    for start_at in range(0, 3000, 500):
        ids += await drivers[0].push([item(i) for i in range(start_at, start_at + 500)])
    seen: list[str] = []

    async def reserver(n: int) -> None:
        d, rng = drivers[n % 4], random.Random(n)
        while got := await d.reserve(QUEUE, rng.randint(1, 16), 60.0):
            seen.extend(r.envelope.id for r in got)
            assert all(await d.settle([Outcome(QUEUE, r.envelope.id, r.token, "ack")
                                       for r in got]))

    await asyncio.gather(*(reserver(n) for n in range(40)))
    assert Counter(seen).most_common(1)[0][1] == 1
    assert sorted(seen) == sorted(ids)


async def test_reservers_in_two_processes_never_share_a_job(ns: Namespace) -> None:
    d = await ns.driver()
    ids = []
    for start_at in range(0, 4000, 500):
        ids += await d.push([item(i) for i in range(start_at, start_at + 500)])
    procs, barrier, results = start(ns, "reserve_all", 2)
    await asyncio.to_thread(barrier.wait, 60)
    per_process = await asyncio.to_thread(collect, procs, results)
    seen = [i for ids_of_one in per_process for i in ids_of_one]
    assert len(seen) == len(set(seen)) == 4000
    assert set(seen) == set(ids)
    assert all(per_process), "one process reserved nothing: no race was tested"


async def test_a_pusher_killed_mid_push_leaves_no_orphan_lock(ns: Namespace) -> None:
    procs, barrier, _results = start(ns, "push_unique", 1)
    await asyncio.to_thread(barrier.wait, 60)
    ready = ns.key("ready")
    deadline = time.monotonic() + 30
    while await ns.raw.zcard(ready) < 500:  # kill it while pushes are in full flow
        assert time.monotonic() < deadline, "the pusher never got going"
        await asyncio.sleep(0.01)
    os.kill(procs[0].pid, signal.SIGKILL)
    await asyncio.to_thread(procs[0].join, 30)

    jobs = {k.rsplit(":", 1)[1] for k in await ns.keys() if ":job:" in k}
    assert set(await ns.raw.zrange(ready, 0, -1)) == jobs
    locks = [k for k in await ns.keys() if "}:unique:" in k]
    assert locks
    for lock in locks:  # every lock belongs to a stored job that points back at it
        holder = await ns.raw.get(lock)
        assert holder in jobs, f"orphan lock {lock} -> {holder}"
        assert await ns.raw.hget(ns.key(f"job:{holder}"), "lock") == lock


async def test_two_worker_processes_run_20000_jobs_exactly_once(
    ns: Namespace, tmp_path: Path
) -> None:
    reg = rr.Registry()
    reg.driver("redis", await ns.driver())
    reg.queue(QUEUE, driver="redis", workers=["w"])
    reg.worker("w", concurrency=64)
    reg.job("noop", redis_procs.record, queue=QUEUE)
    reg.freeze()
    ids = await reg.push_many("noop", [{"n": i} for i in range(20_000)])
    outs = [str(tmp_path / f"runs{i}.txt") for i in range(2)]
    procs, barrier, results = start(ns, "work", 2, out=outs)
    await asyncio.to_thread(barrier.wait, 60)
    counts = await asyncio.to_thread(collect, procs, results)
    runs = [line for out in outs for line in Path(out).read_text().split("\n") if line]
    assert sum(counts) == len(runs) == 20_000
    assert Counter(runs).most_common(1)[0][1] == 1
    assert set(runs) == set(ids)
    assert all(c > 0 for c in counts), f"one process ran nothing: {counts}"
    c = await (await reg.queue_driver(QUEUE)).counts(QUEUE)
    assert (c.pending, c.delayed, c.reserved, c.failed) == (0, 0, 0, 0)
    w = await (await reg.queue_driver(QUEUE)).worker_counts("w")
    assert (w.processed, w.succeeded, w.instances) == (20_000, 20_000, 0)
