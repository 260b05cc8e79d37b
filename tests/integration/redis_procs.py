"""Child-process bodies for the Redis multi-process tests (started with ``spawn``).

Each child runs its own event loop and RedisDriver and puts ``("ok", data)`` or
``("error", traceback)`` on the results queue, so a failure in a child fails the test.
"""

from __future__ import annotations

import asyncio
import traceback
from pathlib import Path
from typing import Any

import runa_runner as rr
from runa_runner.drivers.base import Outcome, PushItem
from runa_runner.drivers.redis import RedisDriver
from runa_runner.job import Envelope, new_id

QUEUE = "q"

#: Job ids run by this process (the handler of ``work``).
RUNS: list[str] = []


def run(role: str, url: str, prefix: str, barrier: Any, results: Any, args: dict[str, Any]) -> None:
    """Entry point of a child: run ``role`` and report its outcome."""
    try:
        results.put(("ok", asyncio.run(ROLES[role](url, prefix, barrier, **args))))
    except BaseException:
        results.put(("error", traceback.format_exc()))


async def reserve_all(url: str, prefix: str, barrier: Any, *, batch: int = 7) -> list[str]:
    """Reserve and ack with many tasks until the queue is empty; every id reserved."""
    driver = RedisDriver(url, prefix=prefix)
    await driver.open()
    barrier.wait(60)
    seen: list[str] = []

    async def loop() -> None:
        while True:
            got = await driver.reserve(QUEUE, batch, 60.0)
            if not got:
                return
            seen.extend(r.envelope.id for r in got)
            await driver.settle([Outcome(QUEUE, r.envelope.id, r.token, "ack") for r in got])

    await asyncio.gather(*(loop() for _ in range(8)))
    await driver.close()
    return seen


async def push_unique(url: str, prefix: str, barrier: Any) -> None:
    """Push unique jobs as fast as possible until killed (the crash-mid-push test)."""
    driver = RedisDriver(url, prefix=prefix)
    await driver.open()
    barrier.wait(60)
    n = 0
    while True:
        # Pairs share a key (the second push of a pair hits the first's lock);
        # half the locks carry a TTL.
        items = [PushItem(Envelope(new_id(), QUEUE, "j", {"n": n + i},
                                   unique=f"k:{(n + i) // 2}"),
                          unique_for=None if (n + i) % 4 < 2 else 30.0) for i in range(20)]
        await asyncio.gather(driver.push(items[:10]), driver.push(items[10:]))
        n += 20


async def record(job: rr.Job[Any]) -> None:
    RUNS.append(job.id)


async def work(url: str, prefix: str, barrier: Any, *, out: str) -> int:
    """One worker process: a Unit in burst mode; writes the ids it ran to ``out``."""
    r = rr.Registry()
    r.driver("redis", RedisDriver(url, prefix=prefix))
    r.queue(QUEUE, driver="redis", workers=["w"])
    r.worker("w", concurrency=64)
    r.job("noop", record, queue=QUEUE)
    r.freeze()
    await r.open_driver("redis")
    barrier.wait(60)
    await rr.Unit(r, "w").run(burst=True)
    await r.close()
    Path(out).write_text("\n".join(RUNS))
    return len(RUNS)


ROLES = {"reserve_all": reserve_all, "push_unique": push_unique, "work": work}
