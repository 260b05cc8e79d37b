"""Celery: ``celery -A bench_app worker --pool threads --concurrency 8`` on a Redis broker.

The thread pool keeps the worker one OS process, like every other target here; Celery's
default prefork pool runs 8 child processes: ``--peers celery-prefork`` measures that too.
"""

from __future__ import annotations

from . import Peer

APP = '''
import os

from celery import Celery

URL = os.environ["BENCH_REDIS_URL"]
app = Celery("bench_app", broker=URL)
app.conf.task_ignore_result = True


@app.task(name="noop")
def noop(n, to, t=0.0):
    record(t)
'''

PUSH = '''
from bench_app import TO, noop


async def open_target(mode):
    async def enqueue(i, t):
        noop.delay(i, TO, t)

    async def close():
        pass

    return enqueue, None, close
'''


def argv(url: str, concurrency: int) -> list[str]:
    return ["celery", "-A", "bench_app", "worker", "--pool", "threads",
            "--concurrency", str(concurrency), "--loglevel", "WARNING"]


PEER = Peer(name="celery", package="celery", module="celery", db=12,
            how="celery -A bench_app worker --pool threads --concurrency 8",
            app=APP, push=PUSH, argv=argv)


def argv_prefork(url: str, concurrency: int) -> list[str]:
    return ["celery", "-A", "bench_app", "worker", "--concurrency", str(concurrency),
            "--loglevel", "WARNING"]


#: Celery's default pool (prefork: a parent and 8 children); only with ``--peers``.
PREFORK = Peer(name="celery-prefork", package="celery", module="celery", db=15,
               how="celery -A bench_app worker --concurrency 8 (default prefork pool)",
               app=APP, push=PUSH, argv=argv_prefork)
