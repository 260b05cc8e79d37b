"""The AMQP driver on a real RabbitMQ: what only this driver does (holding-queue
delays, redelivery attempts, corrupt messages, the failed queue, wake-ups).

Each test gets its own queue prefix and exchange; everything it created is
deleted afterwards (queues found with ``rabbitmqctl list_queues`` by prefix).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aio_pika
import pytest

from runa_runner.drivers import create_driver
from runa_runner.drivers.amqp import AMQPDriver
from runa_runner.drivers.base import LEASE_LOST, Outcome, PushItem, Reserved, StatsDelta
from runa_runner.errors import Unsupported
from runa_runner.job import Envelope, new_id

Make = Callable[[], Awaitable[AMQPDriver]]


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True,
                          timeout=60, check=True).stdout


async def drop_namespace(url: str, prefix: str) -> None:
    """Delete every queue named ``prefix...`` and the test's exchange."""
    listing = await asyncio.to_thread(rabbitmqctl, "list_queues", "-q", "--no-table-headers",
                                      "name")
    doomed = [n.strip() for n in listing.splitlines() if n.strip().startswith(prefix)]
    conn = await aio_pika.connect(url)
    try:
        for name in [*doomed, None]:
            channel = await conn.channel()
            with contextlib.suppress(Exception):
                if name is None:
                    await channel.exchange_delete(prefix + "x")
                else:
                    await channel.queue_delete(name)
            with contextlib.suppress(Exception):
                await channel.close()
    finally:
        await conn.close()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
async def make(
    amqp_url: str, prefix: str, require_service: Callable[[str], None]
) -> AsyncIterator[Make]:
    """Factory of opened drivers sharing this test's prefix (many "processes", one broker)."""
    require_service("amqp")
    made: list[AMQPDriver] = []

    async def factory() -> AMQPDriver:
        drv = AMQPDriver(amqp_url, exchange=prefix + "x", prefix=prefix)
        await drv.open()
        made.append(drv)
        return drv

    yield factory
    for drv in made:
        with contextlib.suppress(Exception):
            await drv.close()
    await drop_namespace(amqp_url, prefix)


def job(queue: str = "q", **fields: object) -> PushItem:
    delay = float(fields.pop("delay", 0.0))  # type: ignore[arg-type]
    env = Envelope(id=new_id(), queue=queue, job="j", payload={"n": 1}, **fields)  # type: ignore[arg-type]
    return PushItem(env, delay=delay)


def outcome(r: Reserved, kind: str = "ack", **kw: object) -> Outcome:
    return Outcome(r.envelope.queue, r.envelope.id, r.token, kind, **kw)  # type: ignore[arg-type]


async def reserve_within(drv: AMQPDriver, seconds: float, queue: str = "q") -> list[Reserved]:
    """Poll ``reserve`` (woken by the driver) until something comes or the deadline passes."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = await drv.reserve(queue, 10, 30)
        if got:
            return got
        await drv.wait([queue], min(0.2, max(0.0, deadline - time.monotonic())))
    return []


async def test_push_reserve_ack(make: Make) -> None:
    drv = await make()
    ids = await drv.push([job(), job(), job()])
    assert (await drv.counts("q")).pending == 3
    got = await drv.reserve("q", 5, 30)
    assert [r.envelope.id for r in got] == ids
    assert {r.envelope.attempt for r in got} == {1}
    assert await drv.settle([outcome(r) for r in got]) == [True] * 3
    assert await drv.reserve("q", 5, 30) == []
    counts = await drv.counts("q")
    assert (counts.pending, counts.delayed, counts.reserved, counts.failed) == (0, None, None, 0)


async def test_reserve_takes_no_more_than_free_slots(make: Make) -> None:
    drv, other = await make(), await make()
    await drv.push([job() for _ in range(5)])
    assert len(await drv.reserve("q", 2, 30)) == 2
    assert len(await other.reserve("q", 10, 30)) == 3  # nothing hoarded by the first


async def test_release_with_delay_arrives_after_the_delay_and_not_before(make: Make) -> None:
    drv = await make()
    await drv.push([job(max_retries=3)])
    [r] = await drv.reserve("q", 1, 30)
    released = time.monotonic()
    assert await drv.settle([outcome(r, "release", delay=0.8)]) == [True]
    assert await drv.reserve("q", 1, 30) == []
    [again] = await reserve_within(drv, 10)
    assert time.monotonic() - released >= 0.8
    assert again.envelope.attempt == 2  # the failed run counted; the release did not add one


async def test_delayed_push_waits_in_a_holding_queue(make: Make) -> None:
    drv = await make()
    pushed = time.monotonic()
    await drv.push([job(delay=0.5)])
    assert (await drv.counts("q")).pending == 0
    [r] = await reserve_within(drv, 10)
    assert time.monotonic() - pushed >= 0.5
    assert r.envelope.attempt == 1


async def test_fail_then_list_retry_and_purge(make: Make) -> None:
    drv = await make()
    [job_id] = await drv.push([job(max_retries=1)])
    [r] = await drv.reserve("q", 1, 30)
    assert await drv.settle([outcome(r, "fail", error="ValueError: x", traceback="tb")]) == [True]
    assert (await drv.counts("q")).failed == 1
    [rec] = await drv.list_failed("q")
    assert (rec.envelope.id, rec.state, rec.error, rec.traceback) == (
        job_id, "failed", "ValueError: x", "tb")
    assert rec.failed_at is not None and rec.failed_at <= time.time()
    assert (await drv.get("q", job_id)) == rec  # found by scanning the failed queue
    assert await drv.list_failed("q") == [rec]  # listing gave the records back

    assert await drv.retry_failed("q", None) == 1
    [r2] = await drv.reserve("q", 1, 30)
    assert (r2.envelope.id, r2.envelope.attempt) == (job_id, 1)  # attempts reset
    await drv.settle([outcome(r2, "fail", error="again")])
    assert await drv.purge_failed("q", older_than=time.time() - 3600) == 0
    assert await drv.purge_failed("q", older_than=time.time() + 1) == 1
    assert await drv.list_failed("q") == []


async def test_delete_removes_a_failed_job_and_refuses_others(make: Make) -> None:
    drv = await make()
    [failed_id, pending_id] = await drv.push([job(), job()])
    [r] = await drv.reserve("q", 1, 30)
    await drv.settle([outcome(r, "fail", error="x")])
    assert await drv.delete("q", failed_id) is True
    assert await drv.list_failed("q") == []
    with pytest.raises(Unsupported, match="driver 'amqp' does not support delete"):
        await drv.delete("q", pending_id)


async def test_crash_redelivery_raises_attempt_and_ends_in_failed(make: Make) -> None:
    first = await make()
    [job_id] = await first.push([job(max_retries=1)])
    [r1] = await first.reserve("q", 1, 30)
    assert r1.envelope.attempt == 1
    await first.close()  # crash: no ack; the broker redelivers

    second = await make()
    [r2] = await reserve_within(second, 10)
    assert (r2.envelope.id, r2.envelope.attempt) == (job_id, 2)
    await second.close()  # crashes on its last allowed attempt

    third = await make()
    assert await third.reserve("q", 5, 30) == []
    [rec] = await third.list_failed("q")
    assert (rec.envelope.id, rec.error, rec.envelope.attempt) == (job_id, LEASE_LOST, 2)


async def test_settle_after_the_connection_died_is_refused(make: Make) -> None:
    drv = await make()
    await drv.push([job(max_retries=2)])
    [r] = await drv.reserve("q", 1, 30)
    await drv._link.robust("worker").close()  # the deliveries' channel is gone
    assert await drv.settle([outcome(r)]) == [False]


async def test_corrupt_message_goes_to_failed_and_the_worker_carries_on(
    make: Make, amqp_url: str, prefix: str
) -> None:
    drv = await make()
    await drv.push([job()])  # declares the queues
    conn = await aio_pika.connect(amqp_url)
    try:
        channel = await conn.channel()
        exchange = await channel.get_exchange(prefix + "x")
        await exchange.publish(aio_pika.Message(b"not json at all"), routing_key=prefix + "q")
        await exchange.publish(aio_pika.Message(b'{"id": 1}'), routing_key=prefix + "q")
    finally:
        await conn.close()
    got = await drv.reserve("q", 10, 30)
    assert [r.envelope.job for r in got] == ["j"]
    errors = sorted(rec.error or "" for rec in await drv.list_failed("q"))
    assert len(errors) == 2
    assert all(e.startswith("corrupt record: ") for e in errors)


async def test_wait_wakes_when_another_process_pushes(make: Make) -> None:
    worker, producer = await make(), await make()
    await worker.wait(["q"], 0.01)  # binds the wake queue
    started = time.monotonic()
    waiting = asyncio.ensure_future(worker.wait(["q"], 10.0))
    await asyncio.sleep(0.05)
    await producer.push([job()])
    await waiting
    assert time.monotonic() - started < 2.0
    assert len(await worker.reserve("q", 1, 30)) == 1


async def test_stats_and_instances_are_shared_between_processes(make: Make) -> None:
    a, b = await make(), await make()
    await a.add_stats("w", StatsDelta(succeeded=2, failed=1))
    await b.add_stats("w", StatsDelta(retried=3))
    await a.heartbeat("w", "a1", 30)
    await b.heartbeat("w", "b1", 30)
    counts = await b.worker_counts("w")
    assert (counts.processed, counts.succeeded, counts.failed, counts.retried,
            counts.instances) == (6, 2, 1, 3, 2)
    await a.leave("w", "a1")
    again = await a.worker_counts("w")  # compaction kept the sums
    assert (again.processed, again.instances) == (6, 1)


async def test_unique_and_renew_are_refused_not_ignored(make: Make) -> None:
    drv = await make()
    with pytest.raises(Unsupported, match="driver 'amqp' does not support unique jobs"):
        await drv.push([PushItem(Envelope(id=new_id(), queue="q", job="j", payload=1,
                                          unique="k"))])
    assert (await drv.counts("q")).pending == 0
    with pytest.raises(Unsupported, match="renew"):
        await drv.renew("q", "x", "t", 30)


def test_describe_redacts_and_from_config_reads_keys(tmp_path: Path) -> None:
    drv = create_driver("amqp", {"type": "amqp", "url": "amqp://u:s3cret@h:5672/v",
                                 "exchange": "ex", "prefix": "p.", "consumer_timeout": 60.0},
                        tmp_path)
    assert isinstance(drv, AMQPDriver)
    info = drv.describe()
    assert "s3cret" not in info.target and info.target == "amqp://u:***@h:5672/v"
    assert (drv.exchange, drv.prefix, drv.consumer_timeout) == ("ex", "p.", 60.0)


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl")
async def test_holding_queue_is_named_by_its_bucket(make: Make, prefix: str) -> None:
    drv = await make()
    await drv.push([job(delay=1.234)])
    listing = await asyncio.to_thread(rabbitmqctl, "list_queues", "-q", "--no-table-headers",
                                      "name", "type")
    assert f"{prefix}q.delay.1300\tquorum" in listing
