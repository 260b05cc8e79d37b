"""Issue 3's load point: concurrency 50 drains 10,000 no-op jobs on the memory driver."""

from __future__ import annotations

import asyncio
from typing import Any

import runa_runner as rr


async def test_concurrency_50_drains_10000_noop_jobs() -> None:
    seen: set[int] = set()
    in_flight = 0
    peak = 0

    async def record(job: rr.Job[Any]) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        seen.add(job.payload["n"])
        await asyncio.sleep(0)  # let the other in-flight handlers interleave
        in_flight -= 1

    registry = rr.Registry()
    registry.queue("q", workers=["w"])
    registry.worker("w", concurrency=50)
    registry.job("noop", record, queue="q")
    registry.freeze()
    await registry.push_many("noop", [{"n": i} for i in range(10_000)])

    unit = rr.Unit(registry, "w")
    await unit.run(burst=True)

    assert seen == set(range(10_000))
    assert unit.counts.succeeded == 10_000
    assert 1 < peak <= 50
    [queue] = await registry.queue_info()
    assert (queue.pending, queue.reserved, queue.failed) == (0, 0, 0)
