"""The dashboard on a big queue: overview and failed-page latency with 1,000,000 failed jobs.

    python benchmarks/dashboard_bench.py [--jobs 1000000] [--drivers sqlite,redis] [--runs 20]
                                         [--sqlite-path FILE] [--redis-prefix P] [--keep]

For each driver one queue is filled with ``--jobs`` failed jobs plus 1,000 pending ones,
then each page is fetched ``--runs`` times through the ASGI app in this process (httpx's
ASGI transport: the app's work without socket noise) and its median, p95 and worst times
are printed. The target is < 200 ms for the overview and for a failed page (DESIGN §12:
no count or page scans the history).

Filling: jobs are pushed with ``push_many``. Redis then fails them through the driver
(``reserve`` 1,000 at a time, one ``settle`` of "fail" outcomes per batch); SQLite, where
that takes a quarter of an hour for a million, fails each pushed chunk with the driver's
own ``fail`` columns in one UPDATE (benchmark only). With ``--keep`` the data stays
(``--sqlite-path``, ``--redis-prefix``) and a later run that finds the jobs there skips
the filling. Redis keys are removed with UNLINK in batches (no single long blocking
command on a shared server).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
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
ERROR = "RuntimeError: boom"


async def noop(job: rr.Job[Any]) -> None:
    return None


def registry(driver: Driver) -> rr.Registry:
    reg = rr.Registry().driver("d", driver)
    reg.worker("w").queue(QUEUE, driver="d", workers=["w"])
    return reg.job("bench.job", noop, queue=QUEUE).freeze()


async def fill(reg: rr.Registry, failed: int, pending: int, sqlite: Path | None) -> None:
    """``failed`` failed jobs, then ``pending`` pending ones (skipped when already there)."""
    [info] = await reg.queue_info()
    if (info.failed or 0) >= failed:
        print(f"  reusing {info.failed:,} failed and {info.pending:,} pending jobs")
        return
    started = time.perf_counter()
    done = 0
    for start in range(0, failed, CHUNK):
        await reg.push_many("bench.job", ({"n": i, "to": "user@example.com"}
                                          for i in range(start, min(failed, start + CHUNK))))
        done += await (fail_in_sql(sqlite) if sqlite else fail_by_driver(reg))
        print(f"  {done:>9,} failed  ({time.perf_counter() - started:6.1f} s)",
              end="\r", flush=True)
    await reg.push_many("bench.job", ({"n": i} for i in range(pending)))
    print(f"  {done:,} failed and {pending:,} pending in "
          f"{time.perf_counter() - started:.1f} s          ")


async def fail_by_driver(reg: rr.Registry) -> int:
    driver = await reg.queue_driver(QUEUE)
    done = 0
    while reserved := await driver.reserve(QUEUE, BATCH, 3600):
        await driver.settle([Outcome(QUEUE, r.envelope.id, r.token, "fail", error=ERROR,
                                     traceback="Traceback ...") for r in reserved])
        done += len(reserved)
    return done


async def fail_in_sql(path: Path) -> int:
    """The pending jobs to failed as the driver's ``fail`` statement leaves them."""
    with sqlite3.connect(path, timeout=30) as conn:
        return conn.execute(
            "UPDATE jobs SET state = 'failed', attempt = 1, token = NULL, lease_until = NULL, "
            "unique_lock = NULL, error = ?, traceback = 'Traceback ...', "
            "failed_at = available_at WHERE queue = ? AND state = 'pending'",
            (ERROR, QUEUE)).rowcount


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


async def middle_id(reg: rr.Registry, jobs: int) -> str:
    """A failed job's id about halfway down the newest-first list (a deep page's cursor)."""
    api = reg.inspector()
    page = await api.jobs(QUEUE, "failed", limit=1)
    after = page.next
    for _ in range(min(jobs // 2, 500_000) // 1000):
        page = await api.jobs(QUEUE, "failed", limit=1000, after=after)
        after = page.next or after
    return after or ""


async def measure(reg: rr.Registry, middle: str, runs: int) -> list[tuple[str, list[float]]]:
    transport = httpx.ASGITransport(app=create_app(reg))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        pages = {
            "overview  GET /": "/",
            "overview  GET /api/queues": "/api/queues",
            "failed    GET /queues/bench?state=failed": f"/queues/{QUEUE}?state=failed",
            "failed    GET /api/.../jobs?state=failed&limit=50":
                f"/api/queues/{QUEUE}/jobs?state=failed&limit=50",
            "failed    same, after= a job halfway down": (
                f"/api/queues/{QUEUE}/jobs?state=failed&limit=50&after={middle}"),
            "pending   GET /queues/bench?state=pending": f"/queues/{QUEUE}?state=pending",
        }
        results = []
        for name, path in pages.items():
            results.append((name, await timed(lambda p=path: c.get(p), runs)))
        check = (await c.get("/api/queues")).json()[0]
        print(f"  counts: failed {check['failed']:,}, pending {check['pending']:,}")
    return results


def report(results: list[tuple[str, list[float]]]) -> bool:
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
        prefix = args.redis_prefix or f"runa-dashbench-{uuid.uuid4().hex[:8]}:"
        path = Path(args.sqlite_path or Path(tmp) / "bench.db")
        if name == "sqlite":
            driver: Driver = rr.drivers.SQLiteDriver(str(path))
        else:
            from runa_runner.drivers.redis import RedisDriver

            driver = RedisDriver(args.redis_url, prefix=prefix)
        reg = registry(driver)
        try:
            await fill(reg, args.jobs, 1000, path if name == "sqlite" else None)
            middle = await middle_id(reg, args.jobs)
            return report(await measure(reg, middle, args.runs))
        finally:
            await reg.close()
            if name == "redis" and not args.keep:
                await unlink_prefix(args.redis_url, prefix)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--drivers", default="sqlite,redis")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--sqlite-path", help="database file to fill or reuse (default: temp)")
    parser.add_argument("--redis-prefix", help="key prefix to fill or reuse (default: new)")
    parser.add_argument("--keep", action="store_true", help="leave the Redis keys in place")
    args = parser.parse_args()
    ok = True
    for name in args.drivers.split(","):
        ok = await run_driver(name.strip(), args) and ok
    print("\nall medians under 200 ms" if ok else "\nsome medians over 200 ms")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
