"""``rr.default()`` is the registry of the unit running the current task (a ContextVar),
so two registries in one process never cross; outside a unit it is the last frozen."""

from __future__ import annotations

import asyncio
from typing import Any

import runa_runner as rr


def registry(seen: list[tuple[str, rr.Registry]], tag: str) -> rr.Registry:
    reg = rr.Registry()

    async def record(job: rr.Job[Any]) -> None:
        await asyncio.sleep(0.01)  # both units are mid-run at once
        seen.append((tag, rr.default()))

    def record_sync(job: rr.Job[Any]) -> None:  # a handler thread sees it too
        seen.append((tag + "-sync", rr.default()))

    reg.worker("default", poll_interval=0.01, concurrency=2)
    reg.job("a", record)
    reg.job("s", record_sync)
    return reg.freeze()


async def test_each_unit_sees_its_own_registry_and_the_last_frozen_is_the_fallback() -> None:
    seen: list[tuple[str, rr.Registry]] = []
    first = registry(seen, "first")
    second = registry(seen, "second")
    for reg in (first, second):
        await reg.push_many("a", range(3))
        await reg.push("s")
    await asyncio.gather(rr.Unit(first, "default").run(burst=True),
                         rr.Unit(second, "default").run(burst=True))
    mine = {"first": first, "second": second, "first-sync": first, "second-sync": second}
    assert len(seen) == 8
    assert all(reg is mine[tag] for tag, reg in seen)
    assert rr.default() is second  # outside any unit: the last frozen
