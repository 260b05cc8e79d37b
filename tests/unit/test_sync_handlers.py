"""A unit runs sync handlers up to its concurrency (its own threads, not the loop's pool)."""

from __future__ import annotations

import threading
from typing import Any

import runa_runner as rr


async def test_sync_handlers_fill_every_slot() -> None:
    lock = threading.Lock()
    all_in = threading.Barrier(20, timeout=10)  # breaks (fails the jobs) if 20 never meet
    running = 0
    peak = 0

    def slow(job: rr.Job[Any]) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        all_in.wait()
        with lock:
            running -= 1

    registry = rr.Registry()
    registry.queue("q", workers=["w"])
    registry.worker("w", concurrency=20)
    registry.job("slow", slow, queue="q")
    registry.freeze()
    await registry.push_many("slow", [{}] * 20)

    unit = rr.Unit(registry, "w")
    await unit.run(burst=True)

    assert unit.counts.succeeded == 20
    assert peak == 20
