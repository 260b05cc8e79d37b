"""Huey: ``huey_consumer bench_app.huey -w 8 -k thread`` with RedisHuey."""

from __future__ import annotations

from . import Peer

APP = '''
import os

from huey import RedisHuey

URL = os.environ["BENCH_REDIS_URL"]
huey = RedisHuey("bench", url=URL)


@huey.task()
def noop(n, to, t=0.0):
    record(t)
'''

PUSH = '''
from bench_app import TO, noop


async def open_target(mode):
    async def enqueue(i, t):
        noop(i, TO, t)

    async def close():
        pass

    return enqueue, None, close
'''


def argv(url: str, concurrency: int) -> list[str]:
    return ["huey_consumer", "bench_app.huey", "-w", str(concurrency), "-k", "thread"]


PEER = Peer(name="huey", package="huey", module="huey", db=14,
            how="huey_consumer bench_app.huey -w 8 -k thread (RedisHuey)",
            app=APP, push=PUSH, argv=argv)
