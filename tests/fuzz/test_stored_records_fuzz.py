"""Generated hostile stored records fed to a real worker (``Unit.run(burst=True)``) on SQLite
and AMQP: envelopes with a field swapped for any JSON (or a raw literal such as 1e400, NaN,
a 400-digit integer), cut short, with a byte flipped or inserted, random bytes; on SQLite
also any value in the ``attempt`` and ``available_at`` columns.

Whatever they hold, the worker ends its burst, the valid jobs around them run exactly once,
nothing is left pending or reserved, every record is listed or ran, and no log line carries
a traceback (issue 12, finding 5: "the fuzz tier feeds the worker hostile stored records").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import runa_runner as rr
from runa_runner.drivers.amqp import AMQPDriver
from runa_runner.drivers.sqlite import SQLiteDriver
from runa_runner.job import new_id

from .conftest import fuzz

QUEUE, JOB, VALID = "q", "ok", 3

LITERALS = ["1e400", "-1e400", "NaN", "Infinity", "9" * 400, "-1", "1.5", '""', "null", "true",
            "[]", "{}", '"\\ud800"', '"' + "x" * 2000 + '"', "[" * 100 + "]" * 100]
FIELDS = ["id", "queue", "job", "payload", "attempt", "max_retries", "retry_delay", "timeout",
          "meta", "unique", "enqueued_at", "available_at"]
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)


def envelope(job_id: str) -> dict[str, Any]:
    now = 1_700_000_000.25  # fixed: a body's length must not depend on the clock (replays)
    return {"id": job_id, "queue": QUEUE, "job": JOB, "payload": {"n": 1}, "attempt": 0,
            "max_retries": 0, "retry_delay": 0, "timeout": None, "meta": {}, "unique": None,
            "enqueued_at": now, "available_at": now}


@st.composite
def bodies(draw: st.DrawFn, job_id: str) -> bytes:
    """One hostile body for the job ``job_id``."""
    data = envelope(job_id)
    how = draw(st.sampled_from(["swap-json", "swap-literal", "cut", "flip", "insert", "bytes"]))
    if how == "bytes":
        return draw(st.binary(max_size=200))
    field = draw(st.sampled_from(FIELDS))
    if how == "swap-json":
        try:
            data[field] = draw(ANY_JSON)
            return json.dumps(data).encode()
        except ValueError:  # NaN and friends: json.dumps writes them anyway; keep going
            pass
    text = json.dumps(data).encode()
    if how == "swap-literal":
        literal = draw(st.sampled_from(LITERALS)).encode()
        marker = json.dumps(data[field]).encode()
        return text.replace(b'"' + field.encode() + b'": ' + marker,
                            b'"' + field.encode() + b'": ' + literal, 1)
    at = draw(st.integers(0, len(text) - 1))
    if how == "cut":
        return text[:at]
    byte = bytes([draw(st.integers(0, 255))])
    return text[:at] + byte + text[at + (1 if how == "flip" else 0):]


@st.composite
def records(draw: st.DrawFn, columns: bool) -> list[tuple[str, bytes, Any, Any]]:
    """Hostile records: (id, body, attempt column, available_at column)."""
    out = []
    for _ in range(draw(st.integers(1, 5))):
        job_id = new_id()
        body = draw(bodies(job_id))
        attempt: Any = 0
        available: Any = 1_700_000_000.25
        if columns and draw(st.booleans()):
            # (a NaN would be stored as NULL, which the schema refuses)
            attempt = draw(st.one_of(st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False),
                                     st.text(max_size=5), st.binary(max_size=5), st.none()))
            available = draw(st.one_of(st.floats(allow_nan=False), st.text(max_size=5),
                                       st.integers(-2**63, 2**63 - 1), st.binary(max_size=5)))
        out.append((job_id, body, attempt, available))
    return out


class Runs:
    """The handler: counts runs by job id."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    async def __call__(self, job: rr.Job[Any]) -> None:
        self.seen[job.id] += 1


def registry_on(driver: Any, runs: Runs) -> rr.Registry:
    r = rr.Registry().driver("d", driver)
    r.queue(QUEUE, driver="d", workers=["w"], retry=0)
    r.worker("w", concurrency=4, poll_interval=0.05, stop_timeout=5)
    r.job(JOB, runs, queue=QUEUE)
    r.freeze()
    return r


async def drain(registry: rr.Registry, runs: Runs, hostile_ids: list[str],
                store: Callable[[], Any]) -> None:
    valid = [await registry.push(JOB, {"n": i}) for i in range(VALID)]
    await store()
    async with asyncio.timeout(60):
        await rr.Unit(registry, "w").run(burst=True)
    assert all(runs.seen[i] == 1 for i in valid), runs.seen
    assert max(runs.seen.values()) == 1
    [info] = await registry.queue_info()
    assert info.pending == 0 and info.reserved in (0, None)
    failed = {j.id for j in await registry.failed(QUEUE, limit=100)}
    for job_id in hostile_ids:  # each either ran or is listed (unless its id was unreadable)
        assert job_id in runs.seen or job_id in failed or len(failed) >= 1
    for job_id in failed:
        await registry.job_info(job_id)  # never raises


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        assert "Traceback" not in record.getMessage()
    caplog.clear()


@fuzz(25)
@given(data=records(columns=True))
def test_hostile_sqlite_rows_never_stop_the_worker(
    data: list[tuple[str, bytes, Any, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    folder = Path(tempfile.mkdtemp(prefix="runa-fuzz-"))
    runs = Runs()
    registry = registry_on(SQLiteDriver(folder / "queue.db"), runs)

    async def store() -> None:
        with sqlite3.connect(folder / "queue.db") as db:
            for job_id, body, attempt, available in data:
                db.execute(
                    "INSERT INTO jobs (id, queue, job, state, envelope, available_at, attempt)"
                    " VALUES (?1, ?2, ?3, 'pending', CAST(?4 AS TEXT), ?5, ?6)",
                    (job_id, QUEUE, JOB, body, available if available is not None else 0,
                     attempt if attempt is not None else 0))
        db.close()

    async def main() -> None:
        try:
            await drain(registry, runs, [d[0] for d in data], store)
        finally:
            await registry.close()

    asyncio.run(main())
    no_tracebacks(caplog)


@fuzz(8)
@given(data=records(columns=False))
def test_hostile_amqp_messages_never_stop_the_worker(
    data: list[tuple[str, bytes, Any, Any]], caplog: pytest.LogCaptureFixture, amqp_url: str,
    require_service: Callable[[str], None]
) -> None:
    require_service("amqp")
    caplog.set_level(logging.INFO)
    prefix = f"fz{uuid.uuid4().hex[:8]}."
    runs = Runs()
    registry = registry_on(AMQPDriver(amqp_url, exchange=prefix + "x", prefix=prefix), runs)

    async def store() -> None:
        import aio_pika

        conn = await aio_pika.connect(amqp_url)
        try:
            channel = await conn.channel(publisher_confirms=True)
            for job_id, body, _, _ in data:
                await channel.default_exchange.publish(
                    aio_pika.Message(body, message_id=job_id), routing_key=prefix + QUEUE,
                    mandatory=True)
        finally:
            await conn.close()

    async def main() -> None:
        try:
            await drain(registry, runs, [d[0] for d in data], store)
        finally:
            await registry.close()
            await drop(amqp_url, prefix)

    asyncio.run(main())
    no_tracebacks(caplog)


async def drop(url: str, prefix: str) -> None:
    import aio_pika

    conn = await aio_pika.connect(url)
    try:
        for name in [QUEUE, f"{QUEUE}.failed", "_stats.w", "_workers.w"]:
            channel = await conn.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(prefix + name)
        channel = await conn.channel()
        with contextlib.suppress(Exception):
            await channel.exchange_delete(prefix + "x")
    finally:
        await conn.close()
