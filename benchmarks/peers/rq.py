"""RQ: ``rq worker`` with its default (forking) Worker class, as the RQ docs start it.

RQ runs one job at a time per worker process (no concurrency setting), and the default
Worker forks a work horse for every job.
"""

from __future__ import annotations

from . import Peer

APP = '''
import os

URL = os.environ["BENCH_REDIS_URL"]


def noop(n, to, t=0.0):
    record(t)
'''

PUSH = '''
from redis import Redis
from rq import Queue

from bench_app import TO, URL, noop


async def open_target(mode):
    connection = Redis.from_url(URL)
    queue = Queue("bench", connection=connection)

    async def enqueue(i, t):
        queue.enqueue(noop, i, TO, t)

    async def close():
        connection.close()

    return enqueue, None, close
'''


def argv(url: str, concurrency: int) -> list[str]:
    return ["rq", "worker", "--url", url, "bench"]


PEER = Peer(name="rq", package="rq", module="rq", db=9,
            how="rq worker (default forking Worker: one job at a time, a fork per job)",
            app=APP, push=PUSH, argv=argv)
