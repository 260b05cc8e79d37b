"""Each Lua script of the Redis driver, observed through the driver and the keys it leaves."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

import pytest

from runa_runner.drivers.base import LEASE_LOST, Outcome, Reserved, StatsDelta
from runa_runner.errors import DriverError

from .redis_support import QUEUE, Namespace, item


@pytest.fixture
async def ns(require_service: Callable[[str], None], redis_url: str) -> AsyncIterator[Namespace]:
    require_service("redis")
    space = Namespace(redis_url)
    yield space
    await space.cleanup()


def ack(r: Reserved) -> Outcome:
    return Outcome(QUEUE, r.envelope.id, r.token, "ack")


async def server_time(ns: Namespace) -> float:
    sec, usec = await ns.raw.time()
    return sec + usec / 1e6


async def test_push_writes_one_hash_and_a_ready_entry_scored_by_the_server_clock(
    ns: Namespace,
) -> None:
    d = await ns.driver()
    before = await server_time(ns)
    [job_id] = await d.push([item({"to": "a@b.c"}, delay=60)])
    after = await server_time(ns)
    assert await ns.keys() == sorted([ns.key(f"job:{job_id}"), ns.key("ready"), ns.key("signal")])
    fields = await ns.raw.hgetall(ns.key(f"job:{job_id}"))
    assert fields["state"] == "pending" and fields["attempt"] == "0" and fields["max"] == "1"
    assert before <= float(fields["enq"]) <= after
    score = await ns.raw.zscore(ns.key("ready"), job_id)
    assert score == pytest.approx(float(fields["enq"]) + 60, abs=1e-3)
    stored = json.loads(fields["env"])  # the wire JSON carries the server's times too
    assert (stored["enqueued_at"], stored["available_at"]) == pytest.approx(
        (float(fields["enq"]), score), abs=1e-6)
    rec = await d.get(QUEUE, job_id)
    assert rec is not None and rec.state == "delayed"
    assert rec.envelope.available_at == pytest.approx(float(fields["enq"]) + 60, abs=1e-3)
    assert rec.envelope.payload == {"to": "a@b.c"}


async def test_reserve_moves_jobs_to_reserved_with_a_token_per_job(ns: Namespace) -> None:
    d = await ns.driver()
    ids = await d.push([item(i) for i in range(3)])
    got = await d.reserve(QUEUE, 10, 30.0)
    assert [r.envelope.id for r in got] == ids
    assert len({r.token for r in got}) == 3
    assert await ns.raw.zcard(ns.key("ready")) == 0
    leases = await ns.raw.zrange(ns.key("reserved"), 0, -1, withscores=True)
    assert {job_id for job_id, _ in leases} == set(ids)
    now = await server_time(ns)
    assert all(now + 29 < score <= now + 30 for _, score in leases)
    assert all(r.lease_until == pytest.approx(leases[0][1], abs=1e-3) for r in got)


async def test_ack_leaves_no_key_behind(ns: Namespace) -> None:
    d = await ns.driver()
    await d.push([item(unique="u")])
    [r] = await d.reserve(QUEUE, 1, 30.0)
    assert await d.settle([ack(r)]) == [True]
    assert await ns.keys() == [ns.key("signal")]


async def test_renew_extends_the_lease_only_for_the_holder(ns: Namespace) -> None:
    d = await ns.driver()
    await d.push([item()])
    [r] = await d.reserve(QUEUE, 1, 5.0)
    assert await d.renew(QUEUE, r.envelope.id, r.token, 60.0)
    score = await ns.raw.zscore(ns.key("reserved"), r.envelope.id)
    assert score is not None and score > await server_time(ns) + 50
    assert not await d.renew(QUEUE, r.envelope.id, r.token + "x", 60.0)
    assert not await d.renew(QUEUE, "no-such-job", r.token, 60.0)


async def test_renew_after_lease_loss_fails(ns: Namespace) -> None:
    d, other = await ns.driver(), await ns.driver()
    await d.push([item(max_retries=3)])
    [r] = await d.reserve(QUEUE, 1, 0.05)
    await asyncio.sleep(0.08)  # the lease must lapse on the server's clock
    assert not await d.renew(QUEUE, r.envelope.id, r.token, 30.0)  # lapsed, not yet taken
    [again] = await other.reserve(QUEUE, 1, 30.0)
    assert again.envelope.id == r.envelope.id and again.envelope.attempt == 2
    assert not await d.renew(QUEUE, r.envelope.id, r.token, 30.0)
    assert await d.settle([ack(r)]) == [False]
    assert await other.settle([ack(again)]) == [True]


async def test_release_and_fail_move_between_sorted_sets(ns: Namespace) -> None:
    d = await ns.driver()
    a, b = await d.push([item(1, max_retries=1), item(2)])
    got = {r.envelope.id: r for r in await d.reserve(QUEUE, 2, 30.0)}
    assert await d.settle([
        Outcome(QUEUE, a, got[a].token, "release", delay=30.0, error="try again"),
        Outcome(QUEUE, b, got[b].token, "fail", error="boom", traceback="tb"),
    ]) == [True, True]
    assert await ns.raw.zrange(ns.key("ready"), 0, -1) == [a]
    assert await ns.raw.zrange(ns.key("failed"), 0, -1) == [b]
    assert await ns.raw.zcard(ns.key("reserved")) == 0
    counts = await d.counts(QUEUE)
    assert (counts.pending, counts.delayed, counts.reserved, counts.failed) == (0, 1, 0, 1)
    rec = await d.get(QUEUE, b)
    assert rec is not None and (rec.state, rec.error, rec.traceback) == ("failed", "boom", "tb")


async def test_lapsed_lease_on_the_last_attempt_is_failed_by_counts(ns: Namespace) -> None:
    d = await ns.driver()
    [job_id] = await d.push([item()])
    await d.reserve(QUEUE, 1, 0.05)
    await asyncio.sleep(0.08)
    counts = await d.counts(QUEUE)
    assert (counts.pending, counts.reserved, counts.failed) == (0, 0, 1)
    [rec] = await d.list_failed(QUEUE)
    assert rec.envelope.id == job_id and rec.error == LEASE_LOST


async def test_unique_lock_key_escapes_and_expires(ns: Namespace) -> None:
    d = await ns.driver()
    first, again = await d.push([item(unique="a:b", unique_for=30.0),
                                 item(unique="a:b", unique_for=30.0)])
    assert again == first
    lock = ns.key("unique:q:j:a\\:b")
    assert await ns.raw.get(lock) == first
    assert 29_000 < await ns.raw.pttl(lock) <= 30_000
    assert await d.delete(QUEUE, first)
    assert await ns.raw.exists(lock) == 0


async def test_unique_until_start_drops_the_lock_at_reserve(ns: Namespace) -> None:
    d = await ns.driver()
    [first] = await d.push([item(unique="k", unique_until="start")])
    await d.reserve(QUEUE, 1, 30.0)
    assert await ns.raw.exists(ns.key("unique:q:j:k")) == 0
    [second] = await d.push([item(unique="k", unique_until="start")])
    assert second != first


async def test_delete_refuses_a_reserved_job(ns: Namespace) -> None:
    d = await ns.driver()
    [job_id] = await d.push([item()])
    await d.reserve(QUEUE, 1, 30.0)
    assert not await d.delete(QUEUE, job_id)
    assert not await d.delete(QUEUE, "unknown")


async def test_retry_failed_resets_attempts_and_purge_failed_honours_older_than(
    ns: Namespace,
) -> None:
    d = await ns.driver()
    ids = await d.push([item(i) for i in range(3)])
    got = await d.reserve(QUEUE, 3, 30.0)
    await d.settle([Outcome(QUEUE, r.envelope.id, r.token, "fail", error="x") for r in got])
    failed = await d.list_failed(QUEUE)
    assert [r.envelope.id for r in failed] == ids
    assert [r.envelope.id for r in await d.list_failed(QUEUE, limit=1, offset=1)] == ids[1:2]
    assert await d.retry_failed(QUEUE, [ids[0], "unknown"]) == 1
    [r] = await d.reserve(QUEUE, 1, 30.0)
    assert r.envelope.id == ids[0] and r.envelope.attempt == 1
    cut = failed[1].failed_at
    assert cut is not None
    assert await d.purge_failed(QUEUE, older_than=cut) == 0  # strictly older only
    assert await d.purge_failed(QUEUE, older_than=cut + 1) == 2
    assert await ns.raw.exists(ns.key(f"job:{ids[1]}")) == 0


async def test_retry_all_and_purge_work_in_batches(ns: Namespace) -> None:
    d = await ns.driver()
    n = 2500  # more than one batch (1000)
    await d.push([item(i, unique=f"u{i}") for i in range(n)])
    got = []
    while len(got) < n:
        got += await d.reserve(QUEUE, 1000, 30.0)
    await d.settle([Outcome(QUEUE, r.envelope.id, r.token, "fail", error="x") for r in got])
    assert await d.retry_failed(QUEUE, None) == n
    await d.push([item(unique="held")])
    assert await d.purge(QUEUE) == n + 1
    assert await ns.keys() == []


async def test_stats_are_summed_over_processes_and_dead_instances_expire(
    ns: Namespace,
) -> None:
    a, b = await ns.driver(), await ns.driver()
    await a.add_stats("w", StatsDelta(succeeded=3, retried=1))
    await b.add_stats("w", StatsDelta(failed=2))
    await a.heartbeat("w", "host:1", 30.0)
    await b.heartbeat("w", "host:2", 0.05)
    counts = await a.worker_counts("w")
    assert (counts.processed, counts.succeeded, counts.failed, counts.retried) == (6, 3, 2, 1)
    assert counts.instances == 2
    await asyncio.sleep(0.08)
    assert (await b.worker_counts("w")).instances == 1
    await a.leave("w", "host:1")
    assert (await a.worker_counts("w")).instances == 0


async def test_wait_wakes_on_a_push_from_another_process(ns: Namespace) -> None:
    idle, pusher = await ns.driver(), await ns.driver()
    waiter = asyncio.create_task(idle.wait([QUEUE, "other"], 10.0))
    await asyncio.sleep(0.05)  # let the waiter block in BLPOP
    t0 = time.monotonic()
    await pusher.push([item()])
    await asyncio.wait_for(waiter, 5.0)
    assert time.monotonic() - t0 < 1.0


async def test_wait_ends_when_a_delayed_job_falls_due(ns: Namespace) -> None:
    d = await ns.driver()
    await d.push([item(delay=0.2)])
    await ns.raw.delete(ns.key("signal"))  # only the due time may end the wait
    t0 = time.monotonic()
    await d.wait([QUEUE], 10.0)
    assert 0.1 < time.monotonic() - t0 < 2.0
    assert len(await d.reserve(QUEUE, 1, 30.0)) == 1


async def test_stray_signals_stay_bounded(ns: Namespace) -> None:
    d = await ns.driver()
    for _ in range(20):
        await d.push([item() for _ in range(5)])
    assert await ns.raw.llen(ns.key("signal")) <= 8


async def test_every_operation_survives_script_flush(ns: Namespace) -> None:
    d = await ns.driver()
    flush = ns.raw.script_flush

    await flush()
    ids = await d.push([item(i, max_retries=1) for i in range(600)])  # 3 pipelined chunks
    await flush()
    got = await d.reserve(QUEUE, 4, 30.0)
    await flush()
    assert await d.renew(QUEUE, got[0].envelope.id, got[0].token, 30.0)
    await flush()
    assert await d.settle([
        ack(got[0]),
        Outcome(QUEUE, got[1].envelope.id, got[1].token, "release"),
        Outcome(QUEUE, got[2].envelope.id, got[2].token, "fail", error="x"),
        Outcome(QUEUE, got[3].envelope.id, got[3].token, "fail", error="y"),
    ]) == [True, True, True, True]
    await flush()
    assert (await d.get(QUEUE, ids[5])) is not None
    await flush()
    assert (await d.counts(QUEUE)).failed == 2
    await flush()
    assert len(await d.list_failed(QUEUE)) == 2
    await flush()
    assert await d.retry_failed(QUEUE, [got[2].envelope.id]) == 1
    await flush()
    assert await d.delete(QUEUE, ids[10])
    await flush()
    assert await d.purge_failed(QUEUE) == 1
    await flush()
    await d.add_stats("w", StatsDelta(succeeded=1))
    await flush()
    await d.heartbeat("w", "i", 30.0)
    await flush()
    assert (await d.worker_counts("w")).instances == 1
    await flush()
    await d.wait([QUEUE], 0.01)
    await flush()
    assert await d.purge(QUEUE) == 597  # 600 - acked - deleted - purged failed


async def test_a_streamed_bulk_push_keeps_push_order(ns: Namespace) -> None:
    d = await ns.driver()
    items = [item(i) for i in range(2100)]  # 9 push.lua calls streamed on one connection
    ids = await d.push(items)
    assert ids == [it.envelope.id for it in items]
    got = [r.envelope.payload for r in await d.reserve(QUEUE, 1000, 30.0)]
    got += [r.envelope.payload for r in await d.reserve(QUEUE, 1000, 30.0)]
    got += [r.envelope.payload for r in await d.reserve(QUEUE, 1000, 30.0)]
    assert got == list(range(2100))


async def test_an_error_reply_in_a_streamed_push_is_raised_and_the_driver_goes_on(
    ns: Namespace,
) -> None:
    d = await ns.driver()
    await ns.raw.set(ns.key("ready"), "not a sorted set")
    with pytest.raises(DriverError, match="WRONGTYPE"):
        await d.push([item(i) for i in range(600)])
    await ns.raw.delete(ns.key("ready"))
    ids = await d.push([item(i) for i in range(600)])
    assert (await d.counts(QUEUE)).pending == 600 and len(set(ids)) == 600


async def test_the_readme_recipe_for_a_producer_in_another_language(ns: Namespace) -> None:
    # README "Wire format": EVAL _lib.lua + push.lua with the queue's keys and one argument.
    from importlib.resources import files

    from runa_runner.job import new_id

    lua = files("runa_runner.drivers.redis") / "lua"
    script = (lua / "_lib.lua").read_text() + "\n" + (lua / "push.lua").read_text()
    job_id = new_id()
    body = json.dumps({"id": job_id, "queue": QUEUE, "job": "mail.send",
                       "payload": {"to": "a@b.c"}, "attempt": 0, "max_retries": 3,
                       "retry_delay": 5.0, "timeout": None, "meta": {}, "unique": None,
                       "enqueued_at": 0, "available_at": 0})
    keys = [ns.key(k) for k in ("ready", "signal", "job:", "unique:")]
    assert await ns.raw.eval(script, 4, *keys, f"{body}\n{job_id} 0 0 4 - done ") == [job_id]
    d = await ns.driver()
    [r] = await d.reserve(QUEUE, 1, 30.0)
    env = r.envelope
    assert (env.id, env.job, env.payload, env.attempt, env.max_attempts) == (
        job_id, "mail.send", {"to": "a@b.c"}, 1, 4)
