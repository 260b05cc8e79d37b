"""Child-process bodies for the SQLite multi-process tests (started with ``spawn``).

Each runs its own event loop and SQLiteDriver on the shared file, waits at a
barrier so that all children contend at once, and puts ``(role, "ok", data)`` or
``(role, "error", repr)`` on the results queue: an exception in a child (for
example "database is locked") becomes a test failure in the parent.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import traceback
from typing import Any

from runa_runner.drivers.base import Outcome, PushItem, StatsDelta
from runa_runner.drivers.sqlite import SQLiteDriver
from runa_runner.job import Envelope, new_id

QUEUE = "q"
WORKER = "w"


def envelope(payload: Any, unique: str | None = None) -> Envelope:
    return Envelope(new_id(), QUEUE, "job", payload, unique=unique)


def run(role: str, path: str, barrier: Any, results: Any, done: Any, args: dict[str, Any]) -> None:
    """Entry point of a child: run ``role`` and report its outcome."""
    try:
        data = asyncio.run(ROLES[role](path, barrier, done, **args))
        results.put((role, "ok", data))
    except BaseException:
        results.put((role, "error", traceback.format_exc()))


async def drain(path: str, barrier: Any, done: Any, *, busy_timeout: float = 5.0,
                batch: int = 10) -> list[str]:
    """Reserve and ack until the queue is empty (and pushers, if any, are done)."""
    driver = SQLiteDriver(path, busy_timeout=busy_timeout)
    await driver.open()
    barrier.wait(60)
    seen: list[str] = []
    rng = random.Random(os.getpid())
    while True:
        got = await driver.reserve(QUEUE, rng.randint(1, batch), 60.0)
        if not got:
            counts = await driver.counts(QUEUE)
            if (done is None or done.is_set()) and counts.pending == 0:
                break
            await driver.wait([QUEUE], 0.05)
            continue
        seen.extend(r.envelope.id for r in got)
        oks = await driver.settle([Outcome(QUEUE, r.envelope.id, r.token, "ack") for r in got])
        assert all(oks), oks
        await driver.add_stats(WORKER, StatsDelta(succeeded=len(got)))
        await driver.heartbeat(WORKER, str(os.getpid()), 60.0)
    await driver.close()
    return seen


async def push(path: str, barrier: Any, done: Any, *, n: int, busy_timeout: float = 5.0,
               unique: str | None = None) -> dict[str, Any]:
    """Push one delayed unique job (held all test long), then ``n`` jobs in random batches."""
    driver = SQLiteDriver(path, busy_timeout=busy_timeout)
    await driver.open()
    barrier.wait(60)
    holder = None
    if unique is not None:
        [holder] = await driver.push([PushItem(envelope("u", unique=unique), delay=3600)])
    rng = random.Random(os.getpid())
    ids: list[str] = []
    while len(ids) < n:
        size = min(rng.choice([1, 1, 5, 20]), n - len(ids))
        ids.extend(await driver.push([PushItem(envelope(len(ids) + i)) for i in range(size)]))
    await driver.close()
    return {"ids": ids, "unique": holder}


async def push_then_die(path: str, barrier: Any, done: Any, *, n: int) -> None:
    """Push ``n`` jobs one by one, then SIGKILL itself without closing anything."""
    driver = SQLiteDriver(path)
    await driver.open()
    barrier.wait(60)
    for i in range(n):
        await driver.push([PushItem(envelope(i))])
    os.kill(os.getpid(), signal.SIGKILL)


ROLES: dict[str, Any] = {"drain": drain, "push": push, "push_then_die": push_then_die}
