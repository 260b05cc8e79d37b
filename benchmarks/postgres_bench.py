"""runa-runner/postgres against the Python PostgreSQL job queues, on one server, in one run.

    python benchmarks/postgres_bench.py                     # both handlers, 5,000 jobs
    python benchmarks/postgres_bench.py --handlers roundtrip --targets runa,pgqueuer
    python benchmarks/postgres_bench.py --quick             # 1,000 jobs: checks that it runs
    python benchmarks/postgres_bench.py --server tmpfs      # a private server in /dev/shm

Targets: runa-runner's postgres driver (``runa-runner work wN --burst``), pgqueuer (on
asyncpg, as its docs recommend; ``pgq run bench_app:main --max-concurrent-tasks N``) and
procrastinate (``procrastinate --app=bench_app.app worker -c N``). Each step gets a fresh
database (dropped and created again, schema installed by the target's own command), so no
table has been ANALYZEd when a step starts, for any target. Figures, as in run.py: push
and bulk push are the pusher's loop; drain is (jobs - 1) / (last start - first start)
from the handlers' timestamps; latency is push -> start with an idle worker. Handlers:
``noop`` records its start; ``roundtrip`` first runs ``SELECT 1`` on a connection pool of
its own (psycopg), i.e. a job that does one database round trip of its own.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import (  # noqa: E402  (the benchmark modules live next to this script)
    MAIN_GUARD,
    PUSH_MAIN,
    RECORD,
    BenchFailed,
    Spread,
    Target,
    Worker,
    drain_rate,
    latencies,
    percentile,
    read_records,
    run_pusher,
    write_files,
)

SERVER = "postgresql://127.0.0.1:5432"
ADMIN_DB = "postgres"
PG_BIN = Path("/usr/lib/postgresql/15/bin")

#: The handler body every target shares: an optional round trip, then the record line.
COMMON = RECORD + '''
import asyncio as _asyncio
import os as _os2

ROUNDTRIP = _os2.environ.get("BENCH_HANDLER") == "roundtrip"
_pool = None
_pool_lock = None


async def roundtrip():
    """One database round trip of the job's own (its own pool, like an app's)."""
    global _pool, _pool_lock
    if _pool is None:
        from psycopg_pool import AsyncConnectionPool
        _pool_lock = _pool_lock or _asyncio.Lock()
        async with _pool_lock:
            if _pool is None:
                pool = AsyncConnectionPool(_os2.environ["BENCH_PG_URL"], min_size=8,
                                           max_size=64, open=False)
                await pool.open()
                _pool = pool
    async with _pool.connection() as conn:
        await conn.execute("SELECT 1")
'''

RUNA_MANIFEST = """\
app_dir: .
default_driver: bench
drivers:
  bench: {type: postgres, url: "${BENCH_PG_URL}", schema: runa, pool_size: 16}
queues:
  bench: {workers: [w8, w64]}
  single: {workers: [sink]}
workers:
  w8: {concurrency: 8}
  w64: {concurrency: 64}
  sink: {concurrency: 1}
jobs:
  noop: {handler: "bench_app:noop", queue: bench}
"""

RUNA_APP = COMMON + '''

async def noop(job):
    if ROUNDTRIP:
        await roundtrip()
    record(job.payload.get("t", 0.0))
'''

RUNA_PUSH = '''
import runa_runner as rr

CHUNK = 1000


async def open_target(mode):
    registry = rr.load("jobs.yaml")
    # Connected (and its tables created) before the clock starts, as the peers connect
    # in open_target and install their schema beforehand.
    await registry.open_driver("bench")
    queue = "single" if mode == "single" else "bench"

    async def enqueue(i, t):
        payload = {"n": i, "to": "user@example.com"}
        if t:
            payload["t"] = t
        await registry.push("noop", payload, queue=queue)

    async def enqueue_many(n):
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            payloads = [{"n": i, "to": "user@example.com"} for i in range(start, stop)]
            await registry.push_many("noop", payloads)

    return enqueue, enqueue_many, registry.close
'''

PGQUEUER_APP = COMMON + '''
import json

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job


async def main():
    connection = await asyncpg.connect(_os2.environ["BENCH_PG_URL"])
    pgq = PgQueuer(AsyncpgDriver(connection))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        data = json.loads(job.payload)
        if ROUNDTRIP:
            await roundtrip()
        record(data.get("t", 0.0))

    return pgq
'''

#: pgqueuer's own ``pgq run`` fails to start with the typer release pip picks today
#: (its log-level option arrives as a str), so its worker is started the way ``pgq run``
#: starts it: the factory, then ``PgQueuer.run``.
PGQUEUER_WORKER = '''
import asyncio
import sys

from bench_app import main


async def serve(concurrency):
    pgq = await main()
    # pgqueuer requires max_concurrent_tasks >= 2 x batch_size (default batch 10).
    await pgq.run(max_concurrent_tasks=concurrency, batch_size=min(10, concurrency // 2))


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
'''

PGQUEUER_PUSH = '''
import json
import os

import asyncpg
from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries

CHUNK = 1000


async def open_target(mode):
    connection = await asyncpg.connect(os.environ["BENCH_PG_URL"])
    queries = Queries(AsyncpgDriver(connection))

    def body(i, t=0.0):
        data = {"n": i, "to": "user@example.com"}
        if t:
            data["t"] = t
        return json.dumps(data).encode()

    async def enqueue(i, t):
        await queries.enqueue("noop", body(i, t))

    async def enqueue_many(n):
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            await queries.enqueue(["noop"] * (stop - start), [body(i) for i in range(start, stop)],
                                  [0] * (stop - start))

    return enqueue, enqueue_many, connection.close
'''

PROCRASTINATE_APP = COMMON + '''
import procrastinate

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=_os2.environ["BENCH_PG_URL"]))


@app.task(name="noop", queue="bench")
async def noop(n, to, t=0.0):
    if ROUNDTRIP:
        await roundtrip()
    record(t)
'''

PROCRASTINATE_PUSH = '''
from bench_app import TO, app, noop

CHUNK = 1000


async def open_target(mode):
    await app.open_async()

    async def enqueue(i, t):
        await noop.defer_async(n=i, to=TO, t=t)

    async def enqueue_many(n):
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            await noop.batch_defer_async(*({"n": i, "to": TO} for i in range(start, stop)))

    return enqueue, enqueue_many, app.close_async
'''


@dataclass(frozen=True)
class Spec:
    """One target: its files, how its schema is installed, how its worker runs."""

    name: str
    how: str
    package: str
    files: dict[str, str]
    install: Callable[[str], list[str] | None]
    worker: Callable[[int, bool], list[str]]


def runa_worker(concurrency: int, burst: bool) -> list[str]:
    argv = ["runa-runner", "-c", "jobs.yaml", "work", f"w{concurrency}"]
    return [*argv, "--burst"] if burst else argv


SPECS = {
    "runa": Spec(
        "runa-runner/postgres", "runa-runner work wN", "runa-runner",
        {"jobs.yaml": RUNA_MANIFEST, "bench_app.py": RUNA_APP,
         "bench_push.py": RUNA_PUSH + PUSH_MAIN + MAIN_GUARD},
        lambda url: None,  # tables are created on first use
        runa_worker),
    "pgqueuer": Spec(
        "pgqueuer", "PgQueuer.run(max_concurrent_tasks=N) on asyncpg", "pgqueuer",
        {"bench_app.py": PGQUEUER_APP, "bench_push.py": PGQUEUER_PUSH + PUSH_MAIN + MAIN_GUARD,
         "bench_worker.py": PGQUEUER_WORKER},
        lambda url: ["pgq", "--pg-dsn", url, "install"],
        lambda c, burst: [sys.executable, "bench_worker.py", str(c)]),
    "procrastinate": Spec(
        "procrastinate", "procrastinate --app=bench_app.app worker -c N", "procrastinate",
        {"bench_app.py": PROCRASTINATE_APP,
         "bench_push.py": PROCRASTINATE_PUSH + PUSH_MAIN + MAIN_GUARD},
        lambda url: ["procrastinate", "--app=bench_app.app", "schema", "--apply"],
        lambda c, burst: ["procrastinate", "--app=bench_app.app", "worker", "-c", str(c),
                          "-q", "bench"]),
}


def fresh_database(name: str) -> str:
    """Drop and create database ``name``; its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{SERVER}/{ADMIN_DB}", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{SERVER}/{name}"


def drop_database(name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{SERVER}/{ADMIN_DB}", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def fresh_step(spec: Spec, target: Target, key: str) -> None:
    """A new database for ``target``, its schema installed, the record file emptied."""
    url = fresh_database(f"runa_bench_{key}")
    target.env["BENCH_PG_URL"] = url
    argv = spec.install(url)
    if argv is not None:
        done = subprocess.run(argv, cwd=target.app_dir, env=target.child_env(),
                              capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise BenchFailed(f"{' '.join(argv)} exited {done.returncode}: "
                              f"{(done.stderr or done.stdout)[-300:]}")
    target.reset_out()


@dataclass
class Row:
    name: str
    handler: str
    samples: dict[str, list[float]]
    failure: str | None = None

    def add(self, metric: str, value: float) -> None:
        self.samples.setdefault(metric, []).append(value)

    def spread(self, metric: str) -> Spread | None:
        return Spread.of(self.samples.get(metric, []))


def measure(key: str, handler: str, root: Path, args: argparse.Namespace) -> Row:
    spec = SPECS[key]
    row = Row(spec.name, handler, {})
    target = Target(name=spec.name, app_dir=root / f"{key}-{handler}",
                    env={"BENCH_HANDLER": handler})
    write_files(target.app_dir, spec.files)
    try:
        for _ in range(args.repeats):
            repeat(spec, key, target, row, args)
    except (BenchFailed, OSError, subprocess.SubprocessError) as exc:
        row.failure = str(exc)
    finally:
        drop_database(f"runa_bench_{key}")
    return row


def repeat(spec: Spec, key: str, target: Target, row: Row, args: argparse.Namespace) -> None:
    fresh_step(spec, target, key)
    row.add("push", args.push_jobs / run_pusher(target, "single", args.push_jobs))
    for concurrency in (8, 64):
        fresh_step(spec, target, key)
        row.add("bulk", args.jobs / run_pusher(target, "bulk", args.jobs))
        worker = Worker(target, spec.worker(concurrency, False))
        try:
            worker.wait_lines(args.jobs, 60 + args.jobs / 20)
        finally:
            worker.stop()
        row.add(f"drain{concurrency}", drain_rate(target.out, args.jobs))
    fresh_step(spec, target, key)
    worker = Worker(target, spec.worker(8, False))
    try:
        run_pusher(target, "warm", 1)  # carries no push time: waits out the worker's boot
        worker.wait_lines(1, 60)
        run_pusher(target, "latency", args.latency_jobs, args.interval)
        worker.wait_lines(args.latency_jobs + 1, 30)
    finally:
        worker.stop()
    values = latencies(target.out)
    if not values:
        raise BenchFailed("no latency samples recorded")
    row.add("p50", percentile(values, 0.50) * 1000)
    row.add("p99", percentile(values, 0.99) * 1000)


def cell(row: Row, metric: str, digits: int = 0) -> str:
    spread = row.spread(metric)
    if spread is None:
        return "-"
    if len(row.samples[metric]) == 1:
        return f"{spread.median:,.{digits}f}"
    return (f"{spread.median:,.{digits}f} ({spread.low:,.{digits}f}–"
            f"{spread.high:,.{digits}f})")


def render(rows: list[Row]) -> str:
    lines = ["| target | handler | push jobs/s | bulk push jobs/s | drain jobs/s, c=8 | "
             "drain jobs/s, c=64 | latency p50 / p99 ms |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.failure:
            lines.append(f"| {r.name} | {r.handler} | not measured: {r.failure} |||||")
            continue
        lines.append(f"| {r.name} | {r.handler} | {cell(r, 'push')} | {cell(r, 'bulk')} | "
                     f"{cell(r, 'drain8')} | {cell(r, 'drain64')} | {cell(r, 'p50', 2)} / "
                     f"{cell(r, 'p99', 2)} |")
    lines.append("")
    lines += ratios(rows)
    return "\n".join(lines)


def ratios(rows: list[Row]) -> list[str]:
    """runa-runner ÷ each peer, per handler and figure (above 1: runa-runner is faster)."""
    out = []
    for handler in dict.fromkeys(r.handler for r in rows):
        runa = next((r for r in rows if r.handler == handler and r.name.startswith("runa")
                     and not r.failure), None)
        for peer in (r for r in rows if r.handler == handler and r is not runa):
            if runa is None or peer.failure:
                continue
            parts = []
            for metric in ("push", "bulk", "drain8", "drain64"):
                a, b = runa.spread(metric), peer.spread(metric)
                if a is not None and b is not None and b.median > 0:
                    parts.append(f"{metric} {a.median / b.median:.1f}x")
            a, b = runa.spread("p50"), peer.spread("p50")
            if a is not None and b is not None and a.median > 0:
                parts.append(f"p50 {b.median / a.median:.1f}x lower")
            out.append(f"- {handler}: runa-runner/postgres vs {peer.name}: {', '.join(parts)}")
    return out


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ("runa-runner", "psycopg", "psycopg-pool", "pgqueuer", "asyncpg",
                    "procrastinate"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join(found)


def server_version() -> str:
    import psycopg

    with psycopg.connect(f"{SERVER}/{ADMIN_DB}") as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", default="runa,pgqueuer,procrastinate")
    p.add_argument("--handlers", default="noop,roundtrip")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--jobs", type=int, default=5000, help="jobs per drain and bulk push")
    p.add_argument("--push-jobs", type=int, default=2000, help="jobs per single-push loop")
    p.add_argument("--latency-jobs", type=int, default=100)
    p.add_argument("--interval", type=float, default=0.02)
    p.add_argument("--quick", action="store_true", help="1,000 jobs, 500 pushes, 30 latency jobs")
    p.add_argument("--soak", type=int, metavar="JOBS",
                   help="instead: one runa-runner drain of JOBS jobs (c=8), its rate at the "
                        "start and at the end, and the hot table's dead rows (e.g. 1000000)")
    p.add_argument("--server", choices=("shared", "tmpfs"), default="shared",
                   help="shared: the server on 127.0.0.1:5432; tmpfs: a private one in /dev/shm")
    args = p.parse_args(argv)
    if args.quick:
        args.jobs, args.push_jobs, args.latency_jobs = 1000, 500, 30
    return args


class PrivateServer:
    """A PostgreSQL cluster of its own in /dev/shm (``--server tmpfs``): fsync stays on, but
    the disk is memory, so the figures show the queue's own cost, not the machine's disk.
    initdb refuses root: as root the cluster belongs to the ``postgres`` user."""

    def __init__(self) -> None:
        import os
        import socket

        self.folder = Path(tempfile.mkdtemp(prefix="runa-pgbench-", dir="/dev/shm"))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            import shutil

            shutil.chown(self.folder, user=self.user)
        self._run("initdb", "-D", str(self.folder / "data"), "-U", "root", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-l",
                  str(self.folder / "server.log"), "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 "
                  "-c unix_socket_directories='' -c max_connections=300", "-w", "start")

    def _run(self, program: str, *args: str) -> None:
        argv = [str(PG_BIN / program), *args]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    def close(self) -> None:
        import shutil

        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def dead_tuples(url: str) -> tuple[int, int]:
    """(live, dead) rows of runa-runner's hot table, from pg_stat_user_tables."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables "
                           "WHERE schemaname = 'runa' AND relname = 'jobs'").fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def soak(args: argparse.Namespace, root: Path) -> None:
    """One ``work w8 --burst`` drain of ``--soak`` jobs on runa-runner: the drain rate over
    the first and the last tenth of the jobs, and the hot table's dead rows."""
    spec = SPECS["runa"]
    target = Target(name=spec.name, app_dir=root / "soak", env={"BENCH_HANDLER": "noop"})
    write_files(target.app_dir, spec.files)
    n = args.soak
    try:
        fresh_step(spec, target, "runa")
        pushed = n / run_pusher(target, "bulk", n, timeout=3600)
        before = dead_tuples(target.env["BENCH_PG_URL"])
        worker = Worker(target, spec.worker(8, True))
        try:
            worker.wait_exit(600 + n / 50)
        finally:
            worker.stop()
        after = dead_tuples(target.env["BENCH_PG_URL"])
        starts = sorted(started for started, _ in read_records(target.out))
        tenth = max(len(starts) // 10, 2)
        first = (tenth - 1) / (starts[tenth - 1] - starts[0])
        last = (tenth - 1) / (starts[-1] - starts[-tenth])
        print(f"soak: {n:,} jobs ({len(starts):,} ran), bulk push {pushed:,.0f} jobs/s; drain "
              f"{(len(starts) - 1) / (starts[-1] - starts[0]):,.0f} jobs/s overall, first "
              f"tenth {first:,.0f}, last tenth {last:,.0f} ({(last / first - 1) * 100:+.0f}%); "
              f"hot table live/dead rows before the drain {before[0]:,}/{before[1]:,}, after "
              f"{after[0]:,}/{after[1]:,}", flush=True)
    finally:
        drop_database("runa_bench_runa")


def main(argv: list[str] | None = None) -> int:
    global SERVER
    args = parse(argv)
    private = PrivateServer() if args.server == "tmpfs" else None
    if private is not None:
        SERVER = f"postgresql://root@127.0.0.1:{private.port}"
    try:
        return run(args)
    finally:
        if private is not None:
            private.close()


def run(args: argparse.Namespace) -> int:
    if args.soak:
        with tempfile.TemporaryDirectory(prefix="runa-pgbench-") as tmp:
            soak(args, Path(tmp))
        return 0
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"server: {server_version()} on {SERVER} ({args.server}); packages: {versions()}")
    print(f"command: python benchmarks/postgres_bench.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"workload: {args.jobs} jobs per drain/bulk push, {args.push_jobs} single pushes, "
          f"{args.latency_jobs} latency jobs every {args.interval * 1000:g} ms; "
          f"median of {args.repeats} repeat(s)", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="runa-pgbench-") as tmp:
        for handler in args.handlers.split(","):
            for key in args.targets.split(","):
                row = measure(key, handler, Path(tmp), args)
                print(f"{row.name} [{handler}]: "
                      + (f"FAILED: {row.failure}" if row.failure else ", ".join(
                          f"{m} {s.median:,.1f}" for m in row.samples
                          if (s := row.spread(m)) is not None)), flush=True)
                rows.append(row)
    print()
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
