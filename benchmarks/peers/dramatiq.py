"""Dramatiq: ``dramatiq bench_app --processes 1 --threads 8`` with its RedisBroker."""

from __future__ import annotations

from . import Peer

APP = '''
import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

URL = os.environ["BENCH_REDIS_URL"]
dramatiq.set_broker(RedisBroker(url=URL))


@dramatiq.actor(queue_name="bench")
def noop(n, to, t=0.0):
    record(t)
'''

PUSH = '''
from bench_app import TO, noop


async def open_target(mode):
    async def enqueue(i, t):
        noop.send(i, TO, t)

    async def close():
        pass

    return enqueue, None, close
'''


def argv(url: str, concurrency: int) -> list[str]:
    return ["dramatiq", "bench_app", "--processes", "1", "--threads", str(concurrency)]


PEER = Peer(name="dramatiq", package="dramatiq", module="dramatiq", db=10,
            how="dramatiq bench_app --processes 1 --threads 8 (RedisBroker)",
            app=APP, push=PUSH, argv=argv)
