"""Messages no worker can read, published raw to an AMQP work or failed queue (issue 12,
findings 3, 5 and 19 on AMQP).

A hostile message between two valid jobs goes to the failed queue of the queue it was
delivered from (never re-published elsewhere) with "corrupt record: <defect>" and one
WARNING line; the valid jobs are handed out. A failed queue holding unreadable bodies
keeps ``list_failed``, ``get``, ``retry_failed`` and ``delete`` working. And the Python
API used without ``await registry.close()`` exits without asyncio's complaints.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aio_pika
import pytest
from chaos.hostile import Hostile, body_kinds

from runa_runner.drivers.amqp import AMQPDriver
from runa_runner.drivers.base import Outcome, PushItem
from runa_runner.errors import DriverError
from runa_runner.job import Envelope, new_id
from runa_runner.records import UNREADABLE

from .test_amqp_driver import drop_namespace

HOSTILE_ID = new_id()
KINDS = body_kinds(HOSTILE_ID, "q", "j")


@pytest.fixture
async def amqp(amqp_url: str, require_service: Callable[[str], None]) -> AsyncIterator[
        tuple[AMQPDriver, str]]:
    """An opened driver on a fresh prefix, and that prefix (dropped afterwards)."""
    require_service("amqp")
    prefix = f"t{uuid.uuid4().hex[:8]}."
    drv = AMQPDriver(amqp_url, exchange=prefix + "x", prefix=prefix)
    await drv.open()
    yield drv, prefix
    await drv.close()
    await drop_namespace(amqp_url, prefix)


async def publish_raw(url: str, queue: str, body: bytes, message_id: str | None) -> None:
    conn = await aio_pika.connect(url)
    try:
        channel = await conn.channel(publisher_confirms=True)
        await channel.default_exchange.publish(
            aio_pika.Message(body, message_id=message_id,
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=queue, mandatory=True)
    finally:
        await conn.close()


def item(queue: str = "q") -> PushItem:
    return PushItem(Envelope(id=new_id(), queue=queue, job="j", payload={"n": 1}))


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and "moved to failed" in r.getMessage()]


@pytest.mark.parametrize("hostile", KINDS, ids=[k.kind for k in KINDS])
async def test_hostile_message_fails_where_it_was_found(
    amqp: tuple[AMQPDriver, str], amqp_url: str, hostile: Hostile,
    caplog: pytest.LogCaptureFixture
) -> None:
    drv, prefix = amqp
    [before] = await drv.push([item()])
    await drv.push([item("elsewhere")])  # the queue a hostile envelope may name exists
    await publish_raw(amqp_url, prefix + "q", hostile.body, HOSTILE_ID)
    [after] = await drv.push([item()])

    got = await drv.reserve("q", 10, 30)
    assert sorted(r.envelope.id for r in got) == sorted([before, after])
    [line] = warnings(caplog)
    assert f"job {HOSTILE_ID} of queue 'q' moved to failed: corrupt record: " in line
    assert hostile.defect in line
    # Never re-published to the queue the envelope names: only the valid job is there.
    assert len(await drv.reserve("elsewhere", 10, 30)) == 1
    assert (await drv.counts("elsewhere")).failed == 0

    [failed] = await drv.list_failed("q")
    assert failed.envelope.id == HOSTILE_ID and failed.envelope.job == UNREADABLE
    assert failed.error is not None and hostile.defect in failed.error
    assert len(failed.envelope.payload) <= 120
    found = await drv.get("q", HOSTILE_ID)
    assert found is not None and found.state == "failed"
    assert await drv.retry_failed("q", None) == 0  # it cannot run: it stays
    assert await drv.delete("q", HOSTILE_ID)
    assert await drv.list_failed("q") == []


UNREADABLE_FAILED = [
    (b"\xff\xfe not even text", "not UTF-8"),
    (b'{"envelope": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested deeper"),
    (b'{"envelope": {"id": "x", "queue": "q", "job": "j", "max_retries": 1e400}}',
     "out of range"),
    (b"[]", "not a JSON object"),
]


@pytest.mark.parametrize(("body", "defect"), UNREADABLE_FAILED,
                         ids=["not-utf8", "deep", "1e400", "not-object"])
async def test_unreadable_failed_records_keep_the_failed_store_usable(
    amqp: tuple[AMQPDriver, str], amqp_url: str, body: bytes, defect: str
) -> None:
    drv, prefix = amqp
    [job_id] = await drv.push([item()])
    [r] = await drv.reserve("q", 1, 30)
    await drv.settle([Outcome("q", job_id, r.token, "fail", error="boom")])
    await publish_raw(amqp_url, prefix + "q.failed", body, None)

    listed = await drv.list_failed("q")
    assert len(listed) == 2
    bad = next(rec for rec in listed if rec.envelope.id != job_id)
    assert bad.envelope.job == UNREADABLE
    assert defect in (bad.error or "") or bad.error == "failed"
    # Its id is stable (the message_id, else derived from the bytes): it can be named.
    assert [rec.envelope.id for rec in await drv.list_failed("q")] == \
        [rec.envelope.id for rec in listed]
    assert await drv.retry_failed("q", None) == 1  # the readable one
    assert await drv.delete("q", bad.envelope.id)
    assert await drv.list_failed("q") == []


@pytest.mark.parametrize(("field", "value"), [
    ("max_retries", 2**63 - 1), ("retry_delay", float("nan")), ("timeout", float("inf")),
])
async def test_numbers_out_of_range_are_refused_at_push(
    amqp: tuple[AMQPDriver, str], field: str, value: object
) -> None:
    drv, _ = amqp
    env = Envelope(id=new_id(), queue="q", job="j", payload=None).evolve(**{field: value})
    with pytest.raises(DriverError, match=f"amqp: cannot store job {env.id} \\(j\\): {field}"):
        await drv.push([PushItem(env)])
    with pytest.raises(DriverError, match="delay"):
        await drv.push([PushItem(env.evolve(max_retries=0, retry_delay=0.0, timeout=None),
                                 delay=1e30)])
    assert (await drv.counts("q")).pending == 0


def test_python_api_without_close_exits_quietly(
    tmp_path: Path, amqp_url: str, require_service: Callable[[str], None]
) -> None:
    """Finding 19: no "Task was destroyed" / "Event loop is closed" at exit."""
    require_service("amqp")
    tag = uuid.uuid4().hex[:8]
    script = tmp_path / "noclose.py"
    script.write_text(textwrap.dedent(f"""
        import asyncio, json
        import runa_runner as rr
        from runa_runner.drivers.amqp import AMQPDriver

        async def handle(job): pass

        async def main():
            r = rr.Registry()
            r.driver("a", AMQPDriver({amqp_url!r}, exchange="t{tag}.x", prefix="t{tag}."))
            r.queue("q", driver="a", workers=["w"]).worker("w", poll_interval=0.05)
            r.job("j", handle, queue="q")
            await r.push("j", {{}})
            await rr.Unit(r, "w").run(burst=True)
            print(json.dumps([q.pending for q in await r.queue_info()]))

        asyncio.run(main())
    """), encoding="utf-8")
    try:
        done = subprocess.run([sys.executable, "-X", "dev", str(script)], capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [0]
        assert done.stderr == ""
    finally:
        asyncio.run(drop_namespace(amqp_url, f"t{tag}."))
