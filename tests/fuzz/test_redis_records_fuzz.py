"""Generated hostile job hashes written straight into Redis, then a real worker
(``Unit.run(burst=True)``) over them: the burst always ends, every valid job runs
exactly once, every other record ends failed with an error or ran once (a generated
record may happen to be valid), nothing is left pending or reserved, and ``job ID`` /
``failed list`` read every record back.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

import runa_runner as rr
from runa_runner.drivers.base import PushItem
from runa_runner.drivers.redis import RedisDriver
from runa_runner.job import Envelope, new_id

from .conftest import fuzz

QUEUE = "q"

NUMBERS = st.one_of(
    st.sampled_from(["0", "1", "3", "abc", "", "-1", "1e400", "nan", "inf", "-inf", "0x10",
                     " 1", "1.5", "99999999999999999999", "1000002", "-"]),
    st.integers(-5, 10**12).map(str),
    st.binary(max_size=6),
)
JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                        st.text(max_size=10), st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
FIELDS = ["id", "queue", "job", "payload", "attempt", "max_retries", "retry_delay", "timeout",
          "meta", "unique", "enqueued_at", "available_at"]


@st.composite
def envelopes(draw: st.DrawFn, job_id: str) -> bytes:
    """A stored ``env``: mostly a sound envelope with one to three fields spoiled, or
    bytes of no shape at all."""
    shape = draw(st.sampled_from(["spoiled", "spoiled", "spoiled", "bytes", "text", "deep",
                                  "huge"]))
    data: dict[str, Any] = {"id": job_id, "queue": QUEUE, "job": "j", "payload": {"n": 1},
                            "attempt": 0, "max_retries": 0}
    if shape == "bytes":
        return draw(st.binary(max_size=40))
    if shape == "text":
        return draw(st.text(max_size=40)).encode("utf-8", "surrogatepass")
    if shape == "deep":
        depth = draw(st.sampled_from([65, 1000, 100_000]))
        return json.dumps({**data, "payload": "@"}).replace(
            '"@"', "[" * depth + "]" * depth).encode()
    if shape == "huge":
        field = draw(st.sampled_from(["attempt", "max_retries", "retry_delay", "timeout",
                                      "enqueued_at"]))
        number = draw(st.sampled_from(["1e400", "-1e400", "1" + "0" * 400, "NaN", "Infinity"]))
        return json.dumps({**data, field: "@"}).replace('"@"', number).encode()
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3)):
        if draw(st.booleans()):
            data.pop(field, None)
        else:
            data[field] = draw(JSON_VALUES)
    return json.dumps(data).encode()


@st.composite
def hashes(draw: st.DrawFn) -> tuple[str, dict[str, bytes | str]]:
    """A job id and the fields of its hash ("-" = left out)."""
    job_id = new_id()
    fields: dict[str, bytes | str] = {"env": draw(envelopes(job_id)), "attempt": "0",
                                      "max": "1", "enq": "0", "avail": "0"}
    for name in draw(st.lists(st.sampled_from(["attempt", "max", "enq", "avail", "env"]),
                              max_size=2)):
        fields[name] = draw(NUMBERS)
    return job_id, fields


async def _drain(url: str, hostile: list[tuple[str, dict[str, bytes | str]]]) -> None:
    prefix = f"fuzz:{uuid.uuid4().hex}:"
    driver = RedisDriver(url, prefix=prefix)
    runs: Counter[str] = Counter()

    async def handle(job: rr.Job[Any]) -> None:
        runs[job.id] += 1

    reg = (rr.Registry().driver("d", driver).worker("w", poll_interval=0.01, concurrency=8)
           .queue(QUEUE, driver="d", workers=["w"]).job("j", handle, queue=QUEUE))
    reg.freeze()
    await driver.open()
    tag = "{" + prefix + QUEUE + "}"
    raw = aioredis.Redis.from_url(url)
    try:
        valid = await driver.push([PushItem(Envelope(id=new_id(), queue=QUEUE, job="j",
                                                     payload={"n": i})) for i in range(3)])
        for job_id, fields in hostile:
            stored = {k: v for k, v in fields.items() if v != "-"}
            if stored:
                await raw.hset(f"{tag}:job:{job_id}", mapping=stored)  # type: ignore[arg-type]
            await raw.zadd(f"{tag}:ready", {job_id: 0})
        await asyncio.wait_for(rr.Unit(reg, "w").run(burst=True), 60)

        assert all(runs[i] == 1 for i in valid), runs
        assert max(runs.values(), default=0) <= 1, runs
        counts = await driver.counts(QUEUE)
        assert (counts.pending, counts.delayed, counts.reserved) == (0, 0, 0), counts
        failed = {r.envelope.id: r for r in await driver.list_failed(QUEUE, limit=1000)}
        for job_id, fields in hostile:
            rec = await driver.get(QUEUE, job_id)
            if job_id in runs or (fields["env"] == "-" and not rec):
                continue  # ran (it was valid after all), or stored nothing to keep
            assert rec is not None and rec.state == "failed", (fields, rec)
            assert rec.error, (fields, rec)
            assert job_id in failed
    finally:
        await driver.purge(QUEUE)
        keys = [k async for k in raw.scan_iter(match="{" + prefix + "*")]
        if keys:
            await raw.delete(*keys)
        await reg.close()
        await raw.aclose()


@pytest.mark.slow
@fuzz(40)
@given(hostile=st.lists(hashes(), min_size=1, max_size=6))
def test_hostile_stored_records_never_stop_a_redis_worker(
    hostile: list[tuple[str, dict[str, bytes | str]]],
    require_service: Callable[[str], None], redis_url: str,
) -> None:
    require_service("redis")
    asyncio.run(_drain(redis_url, hostile))
