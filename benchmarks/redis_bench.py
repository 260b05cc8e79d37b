"""Redis driver benchmark: no-op jobs on a local Redis, figures printed (no asserts).

    python benchmarks/redis_bench.py [--url redis://127.0.0.1:6379/0] [--jobs 20000]

Measures, each on its own key prefix (deleted afterwards):

* single push: one ``driver.push([item])`` round trip per job, one process, next to
  the floor measured in the same run: a bare redis-py ``LPUSH`` per job on the same
  connection type (what a queue that stores one list entry per job pays); and
  ``registry.push_sync`` from a thread without an event loop (a web request handler);
* bulk push: ``driver.push`` of 500 built jobs a call (pipelined push.lua chunks), and
  ``registry.push_many`` (the same plus payload validation and envelope building);
* driver drain: ``reserve(64)`` + one pipelined ``settle`` of the 64 acks, in a loop;
* worker drain: one ``Unit`` (concurrency 64, ``burst=True``) running a no-op handler;
* idle latency: push -> handler start with an idle worker, p50/p95 over sequential jobs;
* idle CPU: the share of one core an idle worker process uses over a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

import runa_runner as rr
from runa_runner.drivers.base import Outcome, PushItem
from runa_runner.drivers.redis import RedisDriver
from runa_runner.job import Envelope, new_id


def item(queue: str = "q") -> PushItem:
    return PushItem(Envelope(id=new_id(), queue=queue, job="noop", payload={"n": 1}))


async def noop(job: rr.Job[Any]) -> None:
    return None


def registry(url: str, prefix: str, handler: Any = noop) -> rr.Registry:
    r = rr.Registry()
    r.driver("redis", RedisDriver(url, prefix=prefix))
    r.queue("q", driver="redis", workers=["w"])
    r.worker("w", concurrency=64)
    r.job("noop", handler, queue="q")
    r.freeze()
    return r


def line(what: str, n: int, seconds: float) -> None:
    print(f"{what:<34} {n:>7} jobs in {seconds:6.2f}s = {n / seconds:>9,.0f} jobs/s")


async def single_push(url: str, prefix: str, n: int) -> None:
    client = aioredis.Redis.from_url(url)
    body = Envelope(id=new_id(), queue="q", job="noop", payload={"n": 1}).to_json()
    t0 = time.perf_counter()
    for _ in range(n):
        await client.lpush(f"{prefix}floor", body)
    floor = time.perf_counter() - t0
    line("floor: bare LPUSH per job", n, floor)
    await client.delete(f"{prefix}floor")
    await client.aclose()
    d = RedisDriver(url, prefix=prefix)
    await d.open()
    t0 = time.perf_counter()
    for _ in range(n):
        await d.push([item()])
    seconds = time.perf_counter() - t0
    line("single push (1 per round trip)", n, seconds)
    print(f"{'':<34} = {floor / seconds:.2f}x the bare LPUSH floor")
    await d.purge("q")
    await d.close()
    # registry.push_sync from a plain thread (a web request): a sync client, no loop hop.
    reg = registry(url, prefix)

    def sync_pushes() -> float:
        t0 = time.perf_counter()
        for i in range(n):
            reg.push_sync("noop", {"n": i})
        return time.perf_counter() - t0

    line("single push_sync (sync caller)", n, await asyncio.to_thread(sync_pushes))
    await (await reg.queue_driver("q")).purge("q")
    await reg.close()


async def driver_bulk_push(url: str, prefix: str, n: int) -> None:
    d = RedisDriver(url, prefix=prefix)
    await d.open()
    items = [item() for _ in range(n)]
    t0 = time.perf_counter()
    for start in range(0, n, 500):
        await d.push(items[start:start + 500])
    line("bulk push (driver.push, 500 a call)", n, time.perf_counter() - t0)
    await d.purge("q")
    await d.close()


async def bulk_push(url: str, prefix: str, n: int) -> None:
    reg = registry(url, prefix)
    payloads = [{"n": i} for i in range(n)]
    t0 = time.perf_counter()
    await reg.push_many("noop", payloads)
    line("bulk push (registry.push_many)", n, time.perf_counter() - t0)
    await reg.close()


async def driver_drain(url: str, prefix: str, n: int) -> None:
    d = RedisDriver(url, prefix=prefix)
    await d.open()
    for start in range(0, n, 500):
        await d.push([item() for _ in range(min(500, n - start))])
    done = 0
    t0 = time.perf_counter()
    while True:
        got = await d.reserve("q", 64, 30.0)
        if not got:
            break
        await d.settle([Outcome("q", r.envelope.id, r.token, "ack") for r in got])
        done += len(got)
    line("driver drain (reserve 64 + settle)", done, time.perf_counter() - t0)
    await d.close()


async def worker_drain(url: str, prefix: str, n: int) -> None:
    reg = registry(url, prefix)
    await reg.push_many("noop", [{"n": i} for i in range(n)])
    unit = rr.Unit(reg, "w")
    t0 = time.perf_counter()
    await unit.run(burst=True)
    line("worker drain (Unit, concurrency 64)", unit.counts.processed, time.perf_counter() - t0)
    await reg.close()


async def idle_latency(url: str, prefix: str, samples: int) -> None:
    started: asyncio.Queue[float] = asyncio.Queue()

    async def mark(job: rr.Job[Any]) -> None:
        started.put_nowait(time.perf_counter())

    reg = registry(url, prefix, mark)
    unit = rr.Unit(reg, "w")
    runner = asyncio.create_task(unit.run())
    pusher = RedisDriver(url, prefix=prefix)  # its own connections, like another process
    await pusher.open()
    await asyncio.sleep(0.3)
    lat = []
    for _ in range(samples):
        await asyncio.sleep(0.02)  # let the worker go idle (blocked in BLPOP)
        t0 = time.perf_counter()
        await pusher.push([item()])
        lat.append((await started.get() - t0) * 1000)
    lat.sort()
    print(f"{'idle push -> start latency':<34} p50 {statistics.median(lat):.2f} ms, "
          f"p95 {lat[int(len(lat) * 0.95)]:.2f} ms ({samples} jobs)")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(3.0)
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100
    print(f"{'idle worker CPU':<34} {cpu:.2f}% of one core (3 s, poll_interval 100ms)")
    await unit.stop()
    await runner
    await pusher.close()
    await reg.close()


async def cleanup(url: str, prefixes: list[str]) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        for prefix in prefixes:
            keys = [k async for k in client.scan_iter(match="{" + prefix + "*", count=1000)]
            for i in range(0, len(keys), 1000):
                await client.delete(*keys[i:i + 1000])
    finally:
        await client.aclose()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--jobs", type=int, default=20000)
    args = ap.parse_args()
    base = f"bench:{uuid.uuid4().hex[:8]}:"
    prefixes = [f"{base}{i}:" for i in range(5)]
    print(f"redis driver benchmark, {args.url}, no-op jobs")
    try:
        await single_push(args.url, prefixes[0], min(args.jobs, 10000))
        await driver_bulk_push(args.url, prefixes[1], args.jobs * 5)
        await bulk_push(args.url, prefixes[1], args.jobs * 5)
        await driver_drain(args.url, prefixes[2], args.jobs)
        await worker_drain(args.url, prefixes[3], args.jobs)
        await idle_latency(args.url, prefixes[4], 200)
    finally:
        await cleanup(args.url, prefixes)


if __name__ == "__main__":
    asyncio.run(main())
