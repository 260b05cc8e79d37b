"""The dashboard on a big queue: overview and failed-page latency with 1,000,000 failed jobs.

    python benchmarks/dashboard_bench.py [--jobs 1000000] [--drivers sqlite,redis] [--runs 20]

For each driver, one queue is filled with ``--jobs`` failed jobs through the driver's own
calls (``push_many``, then ``reserve`` 1,000 at a time and one ``settle`` of "fail"
outcomes per batch) plus 1,000 pending ones, then each page is fetched ``--runs`` times
through the ASGI app in this process (httpx's ASGI transport: the app's work, without
socket noise) and its median, p95 and worst times are printed. The target is < 200 ms
for the overview and for a failed page (DESIGN §12: no count or page scans history).

Redis: the Redis on 127.0.0.1:6379 (``--redis-url``) under a unique prefix, removed
afterwards with UNLINK in batches (no single long blocking command on a shared server).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

import runa_runner as rr
from runa_runner.dashboard import create_app
from runa_runner.drivers.base import Driver, Outcome

QUEUE = "bench"
TARGET_MS = 200.0
CHUNK = 10_000
BATCH = 1_000


async def noop(job: rr.Job[Any]) -> None:
    return None


def registry(driver: Driver) -> rr.Registry:
    reg = rr.Registry().driver("d", driver)
    reg.worker("w").queue(QUEUE, driver="d", workers=["w"])
    return reg.job("bench.job", noop, queue=QUEUE).freeze()


async def fill(reg: rr.Registry, failed: int, pending: int) -> list[str]:
    """``failed`` failed jobs (ids in failure order), then ``pending`` pending ones."""
    driver = await reg.queue_driver(QUEUE)
    ids: list[str] = []
    started = time.perf_counter()
    for start in range(0, failed, CHUNK):
        await reg.push_many("bench.job", ({"n": i, "to": "user@example.com"}
                                          for i in range(start, min(failed, start + CHUNK))))
        while reserved := await driver.reserve(QUEUE, BATCH, 3600):
            outcomes = [Outcome(QUEUE, r.envelope.id, r.token, "fail",
                                error="RuntimeError: boom", traceback="Traceback ...")
                        for r in reserved]
            await driver.settle(outcomes)
            ids += [r.envelope.id for r in reserved]
        print(f"  {len(ids):>9,} failed  ({time.perf_counter() - started:6.1f} s)",
              end="\r", flush=True)
    await reg.push_many("bench.job", ({"n": i} for i in range(pending)))
    print(f"  {len(ids):,} failed and {pending:,} pending in "
          f"{time.perf_counter() - started:.1f} s          ")
    return ids


async def timed(get: Callable[[], Awaitable[httpx.Response]], runs: int) -> list[float]:
    for _ in range(2):  # warm-up: connections, template compilation
        (await get()).raise_for_status()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = await get()
        times.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return times


async def measure(reg: rr.Registry, ids: list[str], runs: int) -> list[tuple[str, list[float]]]:
    middle = ids[len(ids) // 2] if ids else ""
    transport = httpx.ASGITransport(app=create_app(reg))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        pages = {
            "overview  GET /": "/",
            "overview  GET /api/queues": "/api/queues",
            "failed    GET /queues/bench?state=failed": f"/queues/{QUEUE}?state=failed",
            "failed    GET /api/.../jobs?state=failed&limit=50":
                f"/api/queues/{QUEUE}/jobs?state=failed&limit=50",
            "failed    same, after= the middle job": (
                f"/api/queues/{QUEUE}/jobs?state=failed&limit=50&after={middle}"),
            "pending   GET /queues/bench?state=pending": f"/queues/{QUEUE}?state=pending",
        }
        results = []
        for name, path in pages.items():
            results.append((name, await timed(lambda p=path: c.get(p), runs)))
        check = (await c.get("/api/queues")).json()[0]
        print(f"  counts: failed {check['failed']:,}, pending {check['pending']:,}")
    return results


def report(driver: str, results: list[tuple[str, list[float]]]) -> bool:
    ok = True
    print(f"  {'page':<50} {'median':>8} {'p95':>8} {'worst':>8}")
    for name, times in results:
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        median = statistics.median(times)
        verdict = "ok" if median < TARGET_MS else f"OVER {TARGET_MS:g} ms"
        ok = ok and median < TARGET_MS
        print(f"  {name:<50} {median:7.1f}ms {p95:7.1f}ms {times[-1]:7.1f}ms  {verdict}")
    return ok


async def unlink_prefix(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await client.unlink(*batch)
                batch = []
        if batch:
            await client.unlink(*batch)
    finally:
        await client.aclose()


async def run_driver(name: str, args: argparse.Namespace) -> bool:
    print(f"\n== {name}: {args.jobs:,} failed jobs in queue '{QUEUE}'")
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"runa-dashbench-{uuid.uuid4().hex[:8]}:"
        if name == "sqlite":
            driver: Driver = rr.drivers.SQLiteDriver(str(Path(tmp) / "bench.db"))
        else:
            from runa_runner.drivers.redis import RedisDriver

            driver = RedisDriver(args.redis_url, prefix=prefix)
        reg = registry(driver)
        try:
            ids = await fill(reg, args.jobs, 1000)
            return report(name, await measure(reg, ids, args.runs))
        finally:
            await reg.close()
            if name == "redis":
                await unlink_prefix(args.redis_url, prefix)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--drivers", default="sqlite,redis")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    ok = True
    for name in args.drivers.split(","):
        ok = await run_driver(name.strip(), args) and ok
    print("\nall medians under 200 ms" if ok else "\nsome medians over 200 ms")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
