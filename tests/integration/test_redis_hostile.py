"""Hostile stored records on Redis (issue 12, findings 1-5): whatever another producer,
an old version or a hand edit left in a job hash, the scripts never half-apply, the
record goes to failed with an error naming its defect, and every other job is served.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from importlib.resources import files
from typing import Any

import pytest
from redis.exceptions import ResponseError

from runa_runner.drivers.base import LEASE_LOST, Outcome, Reserved
from runa_runner.drivers.redis import RedisDriver
from runa_runner.job import new_id
from runa_runner.records import UNREADABLE

from .redis_support import QUEUE, Namespace, item


@pytest.fixture
async def ns(require_service: Callable[[str], None], redis_url: str) -> AsyncIterator[Namespace]:
    require_service("redis")
    space = Namespace(redis_url)
    yield space
    await space.cleanup()


def body(job_id: str, queue: str = QUEUE, **fields: Any) -> str:
    """An envelope as a producer in another language writes it."""
    return json.dumps({"id": job_id, "queue": queue, "job": "j", "payload": None,
                       "attempt": 0, "max_retries": 0, **fields})


async def store(ns: Namespace, job_id: str, **fields: str | bytes) -> None:
    """A due job hash written directly, bypassing push.lua (fields may be any bytes)."""
    now = (await ns.raw.time())[0]
    mapping: dict[str, str | bytes] = {"env": body(job_id), "attempt": "0", "max": "1",
                                       "enq": str(now), "avail": str(now), "state": "pending"}
    mapping.update(fields)
    for name in [k for k, v in mapping.items() if v == "-"]:
        del mapping[name]  # "-" leaves the field out
    await ns.raw.hset(ns.key(f"job:{job_id}"), mapping=mapping)  # type: ignore[arg-type]
    await ns.raw.zadd(ns.key("ready"), {job_id: now - 1})


async def where(ns: Namespace, job_id: str) -> list[str]:
    """The sets that list ``job_id`` (a sound job is in exactly one)."""
    return [z for z in ("ready", "reserved", "failed")
            if await ns.raw.zscore(ns.key(z), job_id) is not None]


async def failed_error(d: RedisDriver, job_id: str) -> str:
    rec = await d.get(QUEUE, job_id)
    assert rec is not None and rec.state == "failed", rec
    assert rec.error is not None
    return rec.error


# ---- finding 1: bytes that are not UTF-8 --------------------------------------------


async def test_an_env_that_is_not_utf8_goes_to_failed_and_is_shown_escaped(
    ns: Namespace,
) -> None:
    d = await ns.driver()
    good_before = (await d.push([item("before")]))[0]
    bad = new_id()
    await store(ns, bad, env=b"\xff\xfe" + body(bad).encode())
    good_after = (await d.push([item("after")]))[0]

    got = await d.reserve(QUEUE, 10, 30.0)
    assert sorted(r.envelope.id for r in got) == sorted([good_before, good_after])
    assert await where(ns, bad) == ["failed"]
    assert await failed_error(d, bad) == "corrupt record: envelope is not UTF-8 (byte 0)"
    [listed] = await d.list_failed(QUEUE)
    assert (listed.envelope.id, listed.envelope.job) == (bad, UNREADABLE)
    assert listed.envelope.payload.startswith("\\xff\\xfe{")
    shown = await d.get(QUEUE, bad)
    assert shown is not None and shown.envelope.payload == listed.envelope.payload


async def test_errors_and_tracebacks_that_are_not_utf8_are_shown(ns: Namespace) -> None:
    d = await ns.driver()
    [job_id] = await d.push([item()])
    [r] = await d.reserve(QUEUE, 1, 30.0)
    assert await d.settle([Outcome(QUEUE, job_id, r.token, "fail", error="boom")])
    await ns.raw.hset(ns.key(f"job:{job_id}"), mapping={"err": b"bad \xff", "tb": b"\xc3("})
    [rec] = await d.list_failed(QUEUE)
    assert (rec.error, rec.traceback) == ("bad \\xff", "\\xc3(")


# ---- finding 2: scripts check before they write --------------------------------------


HOSTILE_FIELDS: dict[str, tuple[dict[str, str | bytes], str]] = {
    "attempt abc": ({"attempt": "abc"}, "field 'attempt' must be a whole number"),
    "attempt 1e400": ({"attempt": "1e400"}, "field 'attempt' must be a whole number"),
    "attempt -1": ({"attempt": "-1"}, "field 'attempt' must be a whole number"),
    "attempt 0x1": ({"attempt": "0x1"}, "field 'attempt' must be a whole number"),
    "attempt at max": ({"attempt": "3", "max": "3"}, "field 'attempt' (3) has reached 'max' (3)"),
    "max missing": ({"max": "-"}, "field 'max' is missing"),
    "max 1e400": ({"max": "1e400"}, "field 'max' must be a whole number"),
    "max 0": ({"max": "0"}, "field 'max' must be a whole number"),
    "env missing": ({"env": "-"}, "field 'env' is missing"),
    "attempt missing": ({"attempt": "-"}, "field 'attempt' is missing"),
    "enq nan": ({"enq": "nan"}, "field 'enq' must be epoch seconds"),
    "avail inf": ({"avail": "inf"}, "field 'avail' must be epoch seconds"),
    "avail missing": ({"avail": "-"}, "field 'avail' is missing"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_FIELDS))
async def test_a_hash_with_unusable_fields_goes_to_failed_and_the_batch_is_served(
    ns: Namespace, case: str
) -> None:
    fields, reason = HOSTILE_FIELDS[case]
    d = await ns.driver()
    ahead = (await d.push([item("ahead")]))[0]
    bad = new_id()
    await store(ns, bad, **fields)
    behind = (await d.push([item("behind")]))[0]

    got = await d.reserve(QUEUE, 10, 30.0)
    assert sorted(r.envelope.id for r in got) == sorted([ahead, behind])
    assert all(r.envelope.attempt == 1 for r in got)
    assert await where(ns, bad) == ["failed"]
    assert (await failed_error(d, bad)).startswith(f"corrupt record: {reason}")
    for r in got:  # the others settle as usual
        assert await d.settle([Outcome(QUEUE, r.envelope.id, r.token, "ack")]) == [True]
    assert (await d.counts(QUEUE)).failed == 1
    assert await d.reserve(QUEUE, 10, 30.0) == []  # nothing left half-moved in ready


async def test_a_hash_without_max_recovered_after_a_kill_ends_in_failed(ns: Namespace) -> None:
    d = await ns.driver()
    [job_id] = await d.push([item()])
    await d.reserve(QUEUE, 1, 0.05)  # the worker that took it is SIGKILLed
    await ns.raw.hdel(ns.key(f"job:{job_id}"), "max")
    await asyncio.sleep(0.1)
    assert await d.reserve(QUEUE, 1, 30.0) == []
    assert await where(ns, job_id) == ["failed"]
    assert await failed_error(d, job_id) == "corrupt record: field 'max' is missing"


async def test_lapsed_leases_with_garbage_counts_fail_and_the_others_recover(
    ns: Namespace,
) -> None:
    d = await ns.driver()
    ids = await d.push([item(i, max_retries=2) for i in range(3)])
    await d.reserve(QUEUE, 3, 0.05)
    await ns.raw.hset(ns.key(f"job:{ids[1]}"), "attempt", "x")
    await asyncio.sleep(0.1)
    got = await d.reserve(QUEUE, 3, 30.0)
    assert sorted(r.envelope.id for r in got) == sorted([ids[0], ids[2]])
    assert (await failed_error(d, ids[1])).startswith("corrupt record: field 'attempt'")


async def test_a_job_key_that_holds_no_hash_is_listed_failed_and_can_be_deleted(
    ns: Namespace,
) -> None:
    d = await ns.driver()
    [good] = await d.push([item()])
    bad = new_id()
    await ns.raw.set(ns.key(f"job:{bad}"), "a string, not a hash")
    await ns.raw.zadd(ns.key("ready"), {bad: 0})
    assert [r.envelope.id for r in await d.reserve(QUEUE, 10, 30.0)] == [good]
    [rec] = await d.list_failed(QUEUE)
    assert (rec.envelope.id, rec.envelope.job) == (bad, UNREADABLE)
    assert rec.error == "corrupt record: job key holds no hash"
    assert await d.retry_failed(QUEUE, [bad]) == 0
    assert await d.delete(QUEUE, bad) is True
    assert await ns.raw.exists(ns.key(f"job:{bad}")) == 0
    assert (await d.counts(QUEUE)).failed == 0


async def test_a_job_left_in_ready_and_failed_by_an_older_version_ends_in_one_set(
    ns: Namespace,
) -> None:
    d = await ns.driver()
    [job_id] = await d.push([item()])
    await ns.raw.hset(ns.key(f"job:{job_id}"), "state", "failed")
    await ns.raw.zadd(ns.key("failed"), {job_id: 1})
    [r] = await d.reserve(QUEUE, 1, 30.0)
    assert await where(ns, job_id) == ["reserved"]
    assert await d.settle([Outcome(QUEUE, job_id, r.token, "ack")]) == [True]
    assert await ns.keys() == [ns.key("signal")]  # no job key, nothing listed


async def test_a_ready_id_without_any_key_is_dropped(ns: Namespace) -> None:
    d = await ns.driver()
    await ns.raw.zadd(ns.key("ready"), {"ghost": 0})
    assert await d.reserve(QUEUE, 10, 30.0) == []
    assert await ns.raw.zcard(ns.key("ready")) == 0


async def test_a_lock_field_outside_the_queue_is_never_deleted(ns: Namespace) -> None:
    d = await ns.driver()
    [job_id] = await d.push([item()])
    victim = ns.key("victim", queue="elsewhere")
    await ns.raw.set(victim, job_id)
    await ns.raw.hset(ns.key(f"job:{job_id}"), mapping={"lock": victim, "uu": "start"})
    [r] = await d.reserve(QUEUE, 1, 30.0)
    assert await d.settle([Outcome(QUEUE, job_id, r.token, "ack")]) == [True]
    assert await ns.raw.get(victim) == job_id
    await ns.raw.delete(victim)


async def test_one_garbage_lease_does_not_stop_the_ack_of_a_batch(ns: Namespace) -> None:
    d = await ns.driver()
    await d.push([item(i) for i in range(3)])
    got = await d.reserve(QUEUE, 3, 30.0)
    await ns.raw.hset(ns.key(f"job:{got[1].envelope.id}"), "lease", "soon")
    acks = [Outcome(QUEUE, r.envelope.id, r.token, "ack") for r in got]
    assert await d.settle(acks) == [True, False, True]


async def test_release_of_a_job_whose_attempt_was_garbled_while_it_ran(ns: Namespace) -> None:
    d = await ns.driver()
    [job_id] = await d.push([item(max_retries=3)])
    [r] = await d.reserve(QUEUE, 1, 30.0)
    await ns.raw.hset(ns.key(f"job:{job_id}"), "attempt", "abc")
    out = Outcome(QUEUE, job_id, r.token, "release", give_back_attempt=True)
    assert await d.settle([out]) == [True]
    assert await d.reserve(QUEUE, 1, 30.0) == []  # then reserve finds and fails it
    assert (await failed_error(d, job_id)).startswith("corrupt record: field 'attempt'")


async def test_garbled_stats_counters_restart_instead_of_failing_half_way(
    ns: Namespace,
) -> None:
    from runa_runner.drivers.base import StatsDelta
    from runa_runner.drivers.redis.keys import worker_keys

    d = await ns.driver()
    await ns.raw.hset(worker_keys(ns.prefix, "w").stats, mapping={"succeeded": "2",
                                                                   "failed": "lots"})
    await d.add_stats("w", StatsDelta(succeeded=1, failed=1, retried=1))
    counts = await d.worker_counts("w")
    assert (counts.succeeded, counts.failed, counts.retried) == (3, 1, 1)
    await ns.raw.delete(worker_keys(ns.prefix, "w").stats)


async def test_a_malformed_push_argument_stores_nothing_of_its_batch(ns: Namespace) -> None:
    script = _push_script()
    keys = [ns.key(k) for k in ("ready", "signal", "job:", "unique:")]
    good = new_id()
    args = [f"{body(good)}\n{good} 0 0 1 - done ", "no newline at all"]
    with pytest.raises(ResponseError, match=r"push\.lua: argument 2"):
        await ns.raw.eval(script, 4, *keys, *args)
    assert await ns.keys() == []
    for bad_tail in ("0 abc 1 - done ", "nan 0 1 - done ", "0 0 0 - done ", "0 0 1 - never ",
                     "1e400 0 1 - done ", "0 0 1 0 done "):
        with pytest.raises(ResponseError, match=r"push\.lua: argument 1"):
            await ns.raw.eval(script, 4, *keys, f"{body(good)}\n{good} {bad_tail}")
    assert await ns.keys() == []


# ---- finding 3: an envelope that is not where it says ---------------------------------


@pytest.mark.parametrize("field", ["queue", "id"])
async def test_an_envelope_stored_elsewhere_than_it_says_goes_to_failed(
    ns: Namespace, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    d = await ns.driver()
    [good] = await d.push([item()])
    bad = new_id()
    other = {"queue": "other", "id": new_id()}[field]
    await store(ns, bad, env=body(bad, **{field: other}))
    with caplog.at_level(logging.WARNING, logger="runa_runner.redis"):
        got = await d.reserve(QUEUE, 10, 30.0)
    assert [r.envelope.id for r in got] == [good]
    error = await failed_error(d, bad)
    assert error.startswith(f"corrupt record: envelope says {field} {other!r} but is stored")
    [line] = [r.getMessage() for r in caplog.records]
    assert f"queue {QUEUE}: job {bad} moved to failed: {error}" in line
    assert not [k for k in await ns.keys() if "{" + ns.prefix + "other}" in k]
    assert await where(ns, bad) == ["failed"]


# ---- finding 4: a push of an id that exists ------------------------------------------


def _push_script() -> str:
    lua = files("runa_runner.drivers.redis") / "lua"
    return (lua / "_lib.lua").read_text() + "\n" + (lua / "push.lua").read_text()


async def test_the_readme_recipe_run_twice_leaves_the_running_job_alone(ns: Namespace) -> None:
    script = _push_script()
    job_id = new_id()
    keys = [ns.key(k) for k in ("ready", "signal", "job:", "unique:")]
    arg = f"{body(job_id, max_retries=3)}\n{job_id} 0 0 4 - done "
    assert await ns.raw.eval(script, 4, *keys, arg) == [job_id]
    d = await ns.driver()
    [r] = await d.reserve(QUEUE, 1, 30.0)
    before = await ns.raw.hgetall(ns.key(f"job:{job_id}"))
    assert await ns.raw.eval(script, 4, *keys, arg) == [job_id]
    assert await ns.raw.hgetall(ns.key(f"job:{job_id}")) == before
    assert await where(ns, job_id) == ["reserved"]
    assert await d.reserve(QUEUE, 1, 30.0) == []
    assert await d.settle([Outcome(QUEUE, job_id, r.token, "ack")]) == [True]


async def test_a_push_of_an_existing_id_returns_it_and_changes_nothing(ns: Namespace) -> None:
    d = await ns.driver()
    first = item("first")
    [job_id] = await d.push([first])
    [r] = await d.reserve(QUEUE, 1, 30.0)
    assert await d.push([first, item("other")]) == [job_id, (await _ready_ids(ns))[0]]
    rec = await d.get(QUEUE, job_id)
    assert rec is not None and (rec.state, rec.envelope.attempt) == ("reserved", 1)
    assert await d.renew(QUEUE, job_id, r.token, 30.0)


async def _ready_ids(ns: Namespace) -> list[str]:
    return list(await ns.raw.zrange(ns.key("ready"), 0, -1))


# ---- finding 5: numbers and depth out of range ----------------------------------------


@pytest.mark.parametrize(("env", "reason"), [
    ('{"id": "%s", "queue": "q", "job": "j", "payload": ' + "[" * 100_000 + "]" * 100_000
     + "}", "envelope is nested deeper than 64 levels"),
    ('{"id": "%s", "queue": "q", "job": "j", "max_retries": 1e400}',
     "number 1e400 is out of range"),
    ('{"id": "%s", "queue": "q", "job": "j", "attempt": 1e400}', "number 1e400 is out of range"),
    ('{"id": "%s", "queue": "q", "job": "j", "max_retries": 1' + "0" * 400 + "}",
     "field 'max_retries'"),
    ('{"id": "%s", "queue": "q", "job": "j", "retry_delay": NaN}', "NaN is not valid JSON"),
    ('["%s"]', "envelope is not a JSON object"),
], ids=["deep", "max_retries 1e400", "attempt 1e400", "400 digits", "NaN", "array"])
async def test_numbers_and_depth_out_of_range_go_to_failed(
    ns: Namespace, env: str, reason: str
) -> None:
    d = await ns.driver()
    [good] = await d.push([item()])
    bad = new_id()
    await store(ns, bad, env=env.replace("%s", bad, 1))
    got: list[Reserved] = await d.reserve(QUEUE, 10, 30.0)
    assert [r.envelope.id for r in got] == [good]
    assert reason in await failed_error(d, bad)
    [rec] = await d.list_failed(QUEUE)
    assert rec.envelope.job == UNREADABLE and len(rec.envelope.payload) <= 120


async def test_lease_lost_still_applies_to_sound_records(ns: Namespace) -> None:
    d = await ns.driver()
    [job_id] = await d.push([item()])
    await d.reserve(QUEUE, 1, 0.05)
    await asyncio.sleep(0.1)
    assert (await d.counts(QUEUE)).failed == 1
    assert await failed_error(d, job_id) == LEASE_LOST


# ---- the read API's listing reads stored records as untrusted too ---------------------


async def test_list_jobs_shows_an_unreadable_pending_record_among_the_good_ones(
    ns: Namespace,
) -> None:
    d = await ns.driver()
    [good] = await d.push([item("good")])
    bad = new_id()
    await store(ns, bad, env=b"\xff\xfe" + body(bad).encode(), enq="soon", avail="never")
    listed = {r.envelope.id: r for r in await d.list_jobs(QUEUE, "pending", 10)}
    assert set(listed) == {good, bad}
    assert listed[bad].envelope.job == UNREADABLE
    assert listed[good].envelope.payload == "good"
    assert await d.oldest_due(QUEUE) is not None
