"""Drain speed of a queue without limits, before and after pause/flow control, in one run.

    python benchmarks/flow_bench.py                       # sqlite and redis, base = main
    python benchmarks/flow_bench.py --drivers sqlite,redis,postgres   # PostgreSQL at
                                                          # postgresql://root@127.0.0.1/test
    python benchmarks/flow_bench.py --drivers sqlite --jobs 5000 --repeats 5
    python benchmarks/flow_bench.py --base <commit>

The base commit's ``runa_runner`` is exported (``git archive``) to a temporary folder;
each drain runs in a fresh process whose ``PYTHONPATH`` picks the base or this checkout,
the two alternated so both see the same machine. A drain: push N jobs (push_many), then
``Unit(...).run(burst=True)`` with a no-op handler at concurrency 64; the rate is N over
the burst's wall time, and the draining process's CPU time per job (steadier than rates
on a shared machine). The median of the repeats is reported, with the spread. A third
row drains the same queue with limits that never bind (``max_running`` = N), the price
of the flow-control path itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

#: One drain, run as ``python -c CHILD driver jobs where limited`` in the chosen tree.
CHILD = '''
import asyncio, sys, time, uuid
import runa_runner as rr

driver_name, jobs, where, limited = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

async def noop(job):
    return None

async def main():
    if driver_name == "sqlite":
        from runa_runner.drivers.sqlite import SQLiteDriver
        driver = SQLiteDriver(where + "/q.db")
    elif driver_name == "redis":
        from runa_runner.drivers.redis import RedisDriver
        driver = RedisDriver("redis://127.0.0.1:6379/0", prefix=where)
    else:
        from runa_runner.drivers.postgres import PostgresDriver
        driver = PostgresDriver("postgresql://root@127.0.0.1:5432/test", schema=where)
    r = rr.Registry()
    r.driver("d", driver)
    r.worker("w", concurrency=64, poll_interval=0.05)
    extra = {"max_running": jobs} if limited == "1" else {}
    r.queue("q", driver="d", workers=["w"], **extra)
    r.job("noop", noop, queue="q")
    r.freeze()
    for i in range(0, jobs, 1000):
        await r.push_many("noop", [{} for _ in range(min(1000, jobs - i))])
    began, cpu = time.perf_counter(), time.process_time()
    await rr.Unit(r, "w").run(burst=True)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    await r.purge("q")
    await r.close()
    if driver_name == "postgres":
        import psycopg
        async with await psycopg.AsyncConnection.connect(
                "postgresql://root@127.0.0.1:5432/test", autocommit=True) as conn:
            await conn.execute(f'DROP SCHEMA "{where}" CASCADE')
    print(jobs / seconds, cpu / jobs * 1e6)

asyncio.run(main())
'''


def export(commit: str, into: Path) -> Path:
    """The ``runa_runner`` package of ``commit``, unpacked under ``into``."""
    archive = into / "base.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), commit,
                    "runa_runner"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "base", filter="data")
    return into / "base"


def drain(tree: Path, driver: str, jobs: int, scratch: Path,
          limited: bool) -> tuple[float, float]:
    """One drain in a fresh process: (jobs/s, this process's CPU µs per job)."""
    where = {"sqlite": str(scratch / uuid.uuid4().hex), "redis": f"fb:{uuid.uuid4().hex}:",
             "postgres": f"fb_{uuid.uuid4().hex[:12]}"}[driver]
    if driver == "sqlite":
        Path(where).mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", CHILD, driver, str(jobs), where,
                          "1" if limited else "0"],
                         env=env, capture_output=True, text=True, check=True, timeout=600)
    rate, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(rate), float(cpu)


def spread(runs: list[tuple[float, float]]) -> str:
    rates, cpu = [r for r, _ in runs], [c for _, c in runs]
    return (f"{statistics.median(rates):,.0f} jobs/s ({min(rates):,.0f}-{max(rates):,.0f}), "
            f"{statistics.median(cpu):.0f} µs CPU/job")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drivers", default="sqlite,redis")
    p.add_argument("--jobs", type=int, default=3000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--base", default="main", help="the commit to compare with (default main)")
    args = p.parse_args(argv)
    base = subprocess.run(["git", "-C", str(REPO), "merge-base", "HEAD", args.base],
                          capture_output=True, text=True, check=True).stdout.strip()
    results: dict[str, dict[str, list[tuple[float, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        trees = {"base": export(base, scratch), "this": REPO}
        for driver in args.drivers.split(","):
            rates = results.setdefault(driver, {"base": [], "this": [], "this+limits": []})
            for tree in trees.values():  # warm-up, not counted: file cache, script cache
                drain(tree, driver, args.jobs // 4 or 1, scratch, False)
            for _ in range(args.repeats):
                for kind, tree in trees.items():
                    rates[kind].append(drain(tree, driver, args.jobs, scratch, False))
                rates["this+limits"].append(drain(REPO, driver, args.jobs, scratch, True))
    print(f"drain of {args.jobs} no-op jobs, concurrency 64, median of {args.repeats} "
          f"(base {base[:10]}); CPU: the draining process's, per job:")
    for driver, runs in results.items():
        rate = {k: statistics.median(r for r, _ in v) for k, v in runs.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
        print(f"  {driver:8} base {spread(runs['base'])}; this {spread(runs['this'])} "
              f"(rate {rate['this'] / rate['base'] - 1:+.1%}, "
              f"CPU {cpu['this'] / cpu['base'] - 1:+.1%}); with max_running that never "
              f"binds {spread(runs['this+limits'])}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
