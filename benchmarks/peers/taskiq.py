"""taskiq: ``taskiq worker bench_app:broker --workers 1 --max-async-tasks 8``.

The broker is taskiq-redis's ``RedisStreamBroker`` (its docs' first example; it acks,
so delivery is at-least-once like runa-runner's). ``--workers 1``: one worker process
(taskiq's default is 2).
"""

from __future__ import annotations

from . import Peer

APP = '''
import os

from taskiq_redis import RedisStreamBroker

URL = os.environ["BENCH_REDIS_URL"]
broker = RedisStreamBroker(url=URL)


@broker.task(task_name="noop")
async def noop(n, to, t=0.0):
    record(t)
'''

PUSH = '''
from bench_app import TO, broker, noop


async def open_target(mode):
    await broker.startup()

    async def enqueue(i, t):
        await noop.kiq(i, TO, t)

    return enqueue, None, broker.shutdown
'''


def argv(url: str, concurrency: int) -> list[str]:
    return ["taskiq", "worker", "bench_app:broker", "--workers", "1",
            "--max-async-tasks", str(concurrency)]


PEER = Peer(name="taskiq", package="taskiq-redis", module="taskiq_redis", db=13,
            how="taskiq worker bench_app:broker --workers 1 --max-async-tasks 8 "
                "(RedisStreamBroker)",
            app=APP, push=PUSH, argv=argv)
