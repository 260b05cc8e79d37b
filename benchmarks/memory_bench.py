"""Memory driver: one worker unit at concurrency 50 draining 10,000 no-op jobs, in-process.

    python benchmarks/memory_bench.py [--jobs 10000] [--concurrency 50] [--repeats 3]

Prints push_many and drain jobs/s (median, min-max); no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import runa_runner as rr


async def noop(job: rr.Job[Any]) -> None:
    return None


async def once(jobs: int, concurrency: int) -> tuple[float, float]:
    registry = rr.Registry()
    registry.queue("q", workers=["w"])
    registry.worker("w", concurrency=concurrency)
    registry.job("noop", noop, queue="q")
    registry.freeze()
    payloads = [{"n": i, "to": "user@example.com"} for i in range(jobs)]
    started = time.perf_counter()
    await registry.push_many("noop", payloads)
    pushed = time.perf_counter()
    unit = rr.Unit(registry, "w")
    await unit.run(burst=True)
    drained = time.perf_counter()
    assert unit.counts.succeeded == jobs, unit.counts
    return jobs / (pushed - started), jobs / (drained - pushed)


def show(label: str, values: list[float]) -> None:
    print(f"{label:<28} {statistics.median(values):>10,.0f} jobs/s "
          f"(min {min(values):,.0f}, max {max(values):,.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = [asyncio.run(once(args.jobs, args.concurrency)) for _ in range(args.repeats)]
    print(f"memory driver, {args.jobs:,} no-op jobs, concurrency {args.concurrency}")
    show("push_many", [p for p, _ in runs])
    show("drain (one unit)", [d for _, d in runs])


if __name__ == "__main__":
    main()
