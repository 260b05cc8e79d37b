"""Push and drain throughput of the AMQP driver on a real RabbitMQ.

    python benchmarks/amqp_bench.py [--url URL] [--jobs N] [--batch N] [--slots N]

Prints jobs/s for: single pushes (one confirmed publish awaited at a time),
push_many (one batch, confirms pipelined), and a driver-level drain
(``reserve(slots)`` + ``settle`` acks until empty, no handler work). Uses its own
queue prefix and deletes its queues afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from runa_runner.drivers.amqp import AMQPDriver
from runa_runner.drivers.amqp.admin import delete_queues
from runa_runner.drivers.base import Outcome, PushItem
from runa_runner.job import Envelope, new_id

QUEUE = "bench"


def items(n: int) -> list[PushItem]:
    return [PushItem(Envelope(id=new_id(), queue=QUEUE, job="bench.job", payload={"n": i}))
            for i in range(n)]


async def push_single(driver: AMQPDriver, n: int) -> float:
    batch = items(n)
    start = time.perf_counter()
    for item in batch:
        await driver.push([item])
    return n / (time.perf_counter() - start)


async def push_many(driver: AMQPDriver, n: int, size: int) -> float:
    batch = items(n)
    start = time.perf_counter()
    for i in range(0, n, size):
        await driver.push(batch[i:i + size])
    return n / (time.perf_counter() - start)


async def drain(driver: AMQPDriver, slots: int) -> tuple[int, float]:
    done = 0
    start = time.perf_counter()
    while True:
        got = await driver.reserve(QUEUE, slots, 30.0)
        if not got:
            break
        await driver.settle([Outcome(QUEUE, r.envelope.id, r.token, "ack") for r in got])
        done += len(got)
    return done, done / (time.perf_counter() - start)


async def main(url: str, jobs: int, batch: int, slots: int) -> None:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    driver = AMQPDriver(url, prefix=prefix)
    await driver.open()
    try:
        await driver.push(items(1))  # declare the queues outside the timings
        await driver.purge(QUEUE)
        single = await push_single(driver, min(jobs, 1000))
        print(f"push (single, confirmed): {single:9.0f} jobs/s  ({min(jobs, 1000)} jobs)")
        many = await push_many(driver, jobs, batch)
        print(f"push_many (batch {batch}):    {many:9.0f} jobs/s  ({jobs} jobs)")
        done, rate = await drain(driver, slots)
        print(f"drain (reserve {slots} + ack): {rate:9.0f} jobs/s  ({done} jobs)")
    finally:
        await delete_queues(driver, [QUEUE])
        await driver.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--slots", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.jobs, args.batch, args.slots))
