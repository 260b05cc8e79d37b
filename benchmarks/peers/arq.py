"""arq: ``arq bench_app.WorkerSettings`` with ``max_jobs = 8`` (asyncio)."""

from __future__ import annotations

from . import Peer

APP = '''
import os

from arq.connections import RedisSettings

URL = os.environ["BENCH_REDIS_URL"]
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))


async def noop(ctx, n, to, t=0.0):
    record(t)


class WorkerSettings:
    functions = [noop]
    redis_settings = RedisSettings.from_dsn(URL)
    max_jobs = CONCURRENCY
'''

PUSH = '''
from arq import create_pool
from arq.connections import RedisSettings

from bench_app import TO, URL


async def open_target(mode):
    pool = await create_pool(RedisSettings.from_dsn(URL))

    async def enqueue(i, t):
        await pool.enqueue_job("noop", i, TO, t)

    async def close():
        await pool.aclose()

    return enqueue, None, close
'''


def argv(url: str, concurrency: int) -> list[str]:
    return ["arq", "bench_app.WorkerSettings"]


PEER = Peer(name="arq", package="arq", module="arq", db=11,
            how="arq bench_app.WorkerSettings (max_jobs = 8, asyncio)",
            app=APP, push=PUSH, argv=argv)
