"""RQ: ``rq worker --worker-class rq.worker.SimpleWorker``, and (``rq-fork``) plain ``rq worker``.

RQ runs one job at a time per worker process (it has no concurrency setting). Its
default Worker forks a work horse for every job (about 20 jobs/s on the 2-core bench
machine, so a 5,000-job drain takes minutes): that one runs only when named
(``--peers rq-fork``). ``SimpleWorker``, documented by RQ for running jobs in the worker
process itself, is the default row.
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
    return ["rq", "worker", "--worker-class", "rq.worker.SimpleWorker", "--url", url, "bench"]


def argv_fork(url: str, concurrency: int) -> list[str]:
    return ["rq", "worker", "--url", url, "bench"]


PEER = Peer(name="rq", package="rq", module="rq", db=9,
            how="rq worker --worker-class rq.worker.SimpleWorker (one job at a time)",
            app=APP, push=PUSH, argv=argv)

#: RQ's default Worker (a fork per job); only with ``--peers rq-fork``.
FORK = Peer(name="rq-fork", package="rq", module="rq", db=9,
            how="rq worker (default forking Worker: one job at a time, a fork per job)",
            app=APP, push=PUSH, argv=argv_fork)
