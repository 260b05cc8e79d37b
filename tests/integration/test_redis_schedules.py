"""fire.lua and slot_state.lua on a real server: the stored layout, one winner among many
concurrent claims, a lapsed last attempt that no longer blocks ``overlap: skip``, a
hostile stored state, and a Redis Cluster (the state shares its queue's hash tag)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from runa_runner.drivers.base import SlotClaim
from runa_runner.drivers.redis import RedisDriver
from runa_runner.records import CorruptRecord

from .redis_support import QUEUE, Namespace, item
from .test_redis_cluster import cluster  # noqa: F401  (the module's 3-master cluster)


@pytest.fixture
async def ns(require_service: Callable[[str], None], redis_url: str) -> AsyncIterator[Namespace]:
    require_service("redis")
    space = Namespace(redis_url)
    yield space
    await space.cleanup()


def claim(slot: float, *, push: bool = True, skip: bool = False, queue: str = QUEUE) -> SlotClaim:
    return SlotClaim(queue, "nightly", slot, item({"n": 1}, queue=queue) if push else None, skip)


async def test_fire_stores_the_state_and_the_job_in_one_script(ns: Namespace) -> None:
    d = await ns.driver()
    assert await d.slot_state(QUEUE, "nightly") is None
    assert (await d.fire(claim(100.0, push=False))).outcome == "advanced"
    fired = await d.fire(claim(110.0))
    assert (fired.outcome, fired.previous) == ("fired", 100.0)
    state = await ns.raw.hgetall(ns.key("schedule:nightly"))
    assert state == {"watermark": "110.0", "fired": "110.0", "job": fired.job_id}
    job = await ns.raw.hgetall(ns.key(f"job:{fired.job_id}"))
    assert job["state"] == "pending" and '"enqueued_at":0.0' not in job["env"]
    assert await ns.raw.zscore(ns.key("ready"), fired.job_id) is not None
    assert (await d.fire(claim(110.0))).outcome == "taken"
    assert (await d.slot_state(QUEUE, "nightly")).job_id == fired.job_id  # type: ignore[union-attr]


async def test_concurrent_claims_of_one_slot_push_one_job(ns: Namespace) -> None:
    drivers = [await ns.driver() for _ in range(4)]
    results = await asyncio.gather(*(d.fire(claim(200.0)) for d in drivers for _ in range(10)))
    assert sorted(r.outcome for r in results).count("fired") == 1
    assert await ns.raw.zcard(ns.key("ready")) == 1


async def test_a_lapsed_last_attempt_does_not_block_overlap_skip(ns: Namespace) -> None:
    d = await ns.driver()
    first = await d.fire(claim(100.0, skip=True))
    (held,) = await d.reserve(QUEUE, 1, 0.05)  # attempt 1 of 1, lease 50ms
    assert held.envelope.id == first.job_id
    assert (await d.fire(claim(110.0, skip=True))).outcome == "skipped"
    await asyncio.sleep(0.1)  # the lease lapses on the last attempt: the job is failed
    again = await d.fire(claim(120.0, skip=True))
    assert again.outcome == "fired" and again.job_id != first.job_id


async def test_a_hostile_state_is_refused_and_left_as_is(ns: Namespace) -> None:
    d = await ns.driver()
    await ns.raw.hset(ns.key("schedule:nightly"), mapping={"watermark": "{\"x\":1}"})
    with pytest.raises(CorruptRecord, match="watermark"):
        await d.fire(claim(100.0))
    with pytest.raises(CorruptRecord, match="watermark"):
        await d.slot_state(QUEUE, "nightly")
    assert await ns.raw.zcard(ns.key("ready")) == 0
    await ns.raw.hset(ns.key("schedule:nightly"), mapping={"watermark": "5", "job": "x" * 300})
    with pytest.raises(CorruptRecord, match="bad job id"):
        await d.slot_state(QUEUE, "nightly")


async def test_fire_on_a_cluster(cluster: list[int]) -> None:  # noqa: F811
    d = RedisDriver(f"redis://127.0.0.1:{cluster[0]}/0", cluster=True,
                    prefix=f"test:{uuid.uuid4().hex}:")
    await d.open()
    try:
        for n in range(6):  # queues on several nodes
            q = f"mail{n}"
            assert (await d.fire(claim(100.0, queue=q))).outcome == "fired"
            assert (await d.fire(claim(100.0, queue=q))).outcome == "taken"
            (r,) = await d.reserve(q, 10, 30.0)
            assert (await d.slot_state(q, "nightly")).job_id == r.envelope.id  # type: ignore[union-attr]
            await d.purge(q)
    finally:
        await d.close()


@pytest.mark.parametrize("watermark", ["nan", "inf", "0x10", "-5", "1e300"])
async def test_a_watermark_lua_would_misread_is_refused(ns: Namespace, watermark: str) -> None:
    d = await ns.driver()
    await ns.raw.hset(ns.key("schedule:nightly"), mapping={"watermark": watermark})
    with pytest.raises(CorruptRecord, match="watermark"):
        await d.fire(claim(100.0))
    assert await ns.raw.zcard(ns.key("ready")) == 0


async def test_a_schedule_key_of_another_type_is_refused(ns: Namespace) -> None:
    d = await ns.driver()
    await ns.raw.set(ns.key("schedule:nightly"), "x")
    with pytest.raises(CorruptRecord, match="holds no hash"):
        await d.fire(claim(100.0))
    with pytest.raises(CorruptRecord, match="holds no hash"):
        await d.slot_state(QUEUE, "nightly")
    await ns.raw.delete(ns.key("schedule:nightly"))
    first = await d.fire(claim(100.0, skip=True))
    await ns.raw.delete(ns.key(f"job:{first.job_id}"))
    await ns.raw.set(ns.key(f"job:{first.job_id}"), "not a hash")
    assert (await d.fire(claim(110.0, skip=True))).outcome == "fired"  # not a live job
