"""SQLite driver throughput, driver calls only (no worker): push and reserve+settle drain.

    python benchmarks/sqlite_bench.py [--jobs 5000] [--batch 100] [--reserve 10]

Prints jobs/s for: pushing one job per call, pushing batches (as ``push_many`` does),
and draining with reserve(count) + one settle per reserved batch. Each phase runs on
a fresh temporary file. The full worker drain target is >= 2,000 jobs/s, so the
driver calls must be well above that.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from runa_runner.drivers.base import Outcome, PushItem
from runa_runner.drivers.sqlite import SQLiteDriver
from runa_runner.job import Envelope, new_id

QUEUE = "bench"


def items(n: int) -> list[PushItem]:
    return [
        PushItem(Envelope(new_id(), QUEUE, "bench.job", {"n": i, "to": "user@example.com"}))
        for i in range(n)
    ]


async def push_single(path: Path, n: int) -> float:
    driver = SQLiteDriver(path)
    await driver.open()
    todo = items(n)
    started = time.perf_counter()
    for item in todo:
        await driver.push([item])
    elapsed = time.perf_counter() - started
    await driver.close()
    return n / elapsed


async def push_batches(path: Path, n: int, batch: int) -> float:
    driver = SQLiteDriver(path)
    await driver.open()
    todo = items(n)
    started = time.perf_counter()
    for start in range(0, n, batch):
        await driver.push(todo[start:start + batch])
    elapsed = time.perf_counter() - started
    await driver.close()
    return n / elapsed


async def drain(path: Path, n: int, count: int) -> float:
    """Reserve ``count`` at a time and ack each reserved batch in one settle."""
    driver = SQLiteDriver(path)
    await driver.open()
    await driver.push(items(n))
    done = 0
    started = time.perf_counter()
    while done < n:
        got = await driver.reserve(QUEUE, count, 60.0)
        if not got:
            break
        await driver.settle([Outcome(QUEUE, r.envelope.id, r.token, "ack") for r in got])
        done += len(got)
    elapsed = time.perf_counter() - started
    await driver.close()
    assert done == n, f"drained {done} of {n}"
    return n / elapsed


async def drain_one_by_one(path: Path, n: int) -> float:
    """Reserve 1 and settle 1 per call: the slowest pattern a worker could use."""
    return await drain(path, n, 1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100, help="push batch size")
    parser.add_argument("--reserve", type=int, default=10, help="jobs per reserve call")
    args = parser.parse_args()
    n = args.jobs
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = [
            ("push, 1 job per call", await push_single(folder / "a.db", n)),
            (f"push, batches of {args.batch}", await push_batches(folder / "b.db", n, args.batch)),
            (f"drain, reserve {args.reserve} + settle", await drain(folder / "c.db", n,
                                                                  args.reserve)),
            ("drain, reserve 1 + settle 1", await drain_one_by_one(folder / "d.db", n)),
        ]
    print(f"SQLite driver, {n} jobs each")
    for label, rate in rows:
        print(f"  {label:<32} {rate:>10,.0f} jobs/s")


if __name__ == "__main__":
    asyncio.run(main())
