"""runa-runner as a benchmark target on each driver: manifest, handler, pusher, namespaces.

One manifest per driver, written into the target's folder (its ``app_dir``). Every
measured step gets a fresh namespace (a Redis key prefix, an AMQP prefix and exchange,
a SQLite file, a PostgreSQL schema) through ``${BENCH_*}`` variables, and the namespace
is removed after it.
The queue ``bench`` is served by pools ``w8`` and ``w64``; single pushes go to the queue
``single`` (served by ``sink``, never started), so they never reach a drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import socket
import sys
import uuid
from pathlib import Path

from workloads import MAIN_GUARD, PUSH_MAIN, RECORD, BenchFailed, Target, write_files

REDIS_URL = "redis://127.0.0.1:6379/0"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
POSTGRES_URL = "postgresql://127.0.0.1:5432/test"

DRIVERS: dict[str, str] = {
    "memory": "{type: memory}",
    "sqlite": '{type: sqlite, path: "${BENCH_SQLITE}"}',
    "redis": f'{{type: redis, url: "{REDIS_URL}", prefix: "${{BENCH_PREFIX}}"}}',
    "amqp": f'{{type: amqp, url: "{AMQP_URL}", prefix: "${{BENCH_PREFIX}}", '
            'exchange: "${BENCH_PREFIX}x"}',
    "postgres": f'{{type: postgres, url: "{POSTGRES_URL}", schema: "${{BENCH_PREFIX}}"}}',
}

MANIFEST = """\
app_dir: .
default_driver: bench
drivers:
  bench: {driver}
queues:
  bench: {{workers: [w8, w64]}}
  single: {{workers: [sink]}}
workers:
  w8: {{concurrency: 8}}
  w64: {{concurrency: 64}}
  sink: {{concurrency: 1}}
jobs:
  noop: {{handler: "bench_app:noop", queue: bench}}
"""

APP = RECORD + '''

async def noop(job):
    record(job.payload.get("t", 0.0))
'''

PUSH = '''
import runa_runner as rr

CHUNK = 1000


async def open_target(mode):
    registry = rr.load("jobs.yaml")
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
''' + PUSH_MAIN

#: The memory driver lives in one process: this pusher also drains (and serves) itself.
PUSH_MEMORY = PUSH + '''

async def _in_process():
    import asyncio, json, os, sys, time
    mode, n, arg = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    enqueue, enqueue_many, close = await open_target(mode)
    registry = rr.default()
    if mode == "drain":
        await enqueue_many(n)
        t0 = time.perf_counter()
        await rr.Unit(registry, f"w{int(arg)}").run(burst=True)
    else:
        unit = rr.Unit(registry, "w8")
        task = asyncio.create_task(unit.run())
        t0 = time.perf_counter()
        for i in range(n):
            await enqueue(i, time.time())
            await asyncio.sleep(arg)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(os.environ["BENCH_OUT"], "rb") as f:
                if f.read().count(b"\\n") >= n:
                    break
            await asyncio.sleep(0.01)
        await unit.stop()
        await task
    print(json.dumps({"seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    import asyncio as _asyncio, sys as _sys
    _asyncio.run(_in_process() if _sys.argv[1] in ("drain", "latency") else _main())
'''


def unavailable(driver: str) -> str | None:
    """Why runa-runner cannot be measured on ``driver`` here, or None."""
    try:
        importlib.import_module(f"runa_runner.drivers.{driver}")
    except ImportError as exc:
        return f"driver module not importable: {exc}"
    if driver == "redis" and not reachable(6379):
        return "no Redis server on 127.0.0.1:6379"
    if driver == "amqp" and not reachable(5672):
        return "no RabbitMQ server on 127.0.0.1:5672"
    if driver == "postgres" and not reachable(5432):
        return "no PostgreSQL server on 127.0.0.1:5432"
    return None


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def make_target(driver: str, root: Path) -> Target:
    app_dir = root / f"runa-{driver}"
    write_files(app_dir, {
        "jobs.yaml": MANIFEST.format(driver=DRIVERS[driver]),
        "bench_app.py": APP,
        "bench_push.py": PUSH_MEMORY if driver == "memory" else PUSH + MAIN_GUARD,
    })
    return Target(name=f"runa-runner/{driver}", app_dir=app_dir)


def in_process_argv(mode: str, n: int, arg: float) -> list[str]:
    """The memory driver's worker process: its pusher, pushing and serving in one process."""
    return [sys.executable, "bench_push.py", mode, str(n), str(arg)]


def worker_argv(driver: str, concurrency: int, n: int, *, burst: bool) -> list[str]:
    """How one worker process starts: the CLI, or (memory) the in-process pusher."""
    if driver == "memory":
        return in_process_argv("drain", n, concurrency)
    argv = ["runa-runner", "-c", "jobs.yaml", "work", f"w{concurrency}"]
    return [*argv, "--burst"] if burst else argv


def new_namespace(target: Target, driver: str) -> None:
    """Point the target at fresh storage (see the module docstring)."""
    uid = uuid.uuid4().hex[:12]
    if driver == "redis":
        target.env["BENCH_PREFIX"] = f"bench:{uid}:"
    elif driver == "amqp":
        target.env["BENCH_PREFIX"] = f"bench.{uid}."
    elif driver == "postgres":
        target.env["BENCH_PREFIX"] = f"bench_{uid}"
    elif driver == "sqlite":
        target.env["BENCH_SQLITE"] = str(target.app_dir / f"queue-{uid}.db")


def drop_namespace(target: Target, driver: str) -> None:
    """Remove what the last step stored (keys, queues, files)."""
    if driver == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        pattern = "*" + target.env["BENCH_PREFIX"] + "*"
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start:start + 1000])
        client.close()
    elif driver == "amqp":
        asyncio.run(_drop_amqp(target.env["BENCH_PREFIX"]))
    elif driver == "postgres":
        import psycopg
        from psycopg import sql

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(target.env["BENCH_PREFIX"])))
    elif driver == "sqlite":
        for path in target.app_dir.glob("queue-*.db*"):
            path.unlink(missing_ok=True)


async def _drop_amqp(prefix: str) -> None:
    import aio_pika

    names = [f"{prefix}{q}{suffix}" for q in ("bench", "single") for suffix in ("", ".failed")]
    names += [f"{prefix}_{kind}.{worker}"
              for kind in ("stats", "workers") for worker in ("w8", "w64", "sink")]
    try:
        connection = await aio_pika.connect(AMQP_URL)
    except Exception as exc:
        raise BenchFailed(f"cannot clean up AMQP queues: {exc}") from None
    async with connection:
        # A name never declared in this run closes the channel: one channel per delete.
        for name in names:
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(name)
        channel = await connection.channel()
        with contextlib.suppress(Exception):
            await channel.exchange_delete(f"{prefix}x")
