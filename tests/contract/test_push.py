"""Pushing through the registry: envelopes, option resolution, validation, push_sync, middleware."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

import runa_runner as rr
from runa_runner.drivers.base import Capability, Reserved

from .helpers import QUEUE, TOUCHED, reserve_one

needs = pytest.mark.needs


class Email(BaseModel):
    to: str
    retries: int = 0


async def send(job: rr.Job[Email]) -> None:
    return None


async def anything(job: rr.Job[Any]) -> None:
    return None


async def reserve(reg: rr.Registry, queue: str = QUEUE) -> Reserved:
    driver = await reg.queue_driver(queue)
    return await reserve_one(driver, queue)


async def test_first_reservation_sees_attempt_one_and_the_payload(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"mail.send": send}, queues={QUEUE: {"retry": 2}})
    job_id = await reg.push("mail.send", {"to": "a@b.c"})
    r = await reserve(reg)
    env = r.envelope
    assert env.id == job_id
    assert (env.queue, env.job) == (QUEUE, "mail.send")
    assert env.payload == {"to": "a@b.c", "retries": 0}  # validated and dumped by the model
    assert env.attempt == 1
    assert env.max_attempts == 3
    assert env.enqueued_at > 0


async def test_meta_merges_queue_then_job_then_push(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(
        jobs={"j": (anything, {"meta": {"team": "job", "job_only": 1}})},
        queues={QUEUE: {"meta": {"team": "queue", "queue_only": 1, "source": "queue"}}},
    )
    await reg.push("j", {}, meta={"source": "signup"})
    env = (await reserve(reg)).envelope
    assert env.meta == {"team": "job", "job_only": 1, "queue_only": 1, "source": "signup"}


@pytest.mark.parametrize(
    ("queue_opt", "job_opt", "push_opt", "expected"),
    [
        (30.0, None, None, 30.0),
        (30.0, 20.0, None, 20.0),
        (30.0, 20.0, 10.0, 10.0),
        (None, None, None, None),
        (None, 5.0, None, 5.0),
    ],
)
async def test_timeout_resolution_push_then_job_then_queue(
    make_registry: Callable[..., rr.Registry],
    queue_opt: float | None, job_opt: float | None, push_opt: float | None,
    expected: float | None,
) -> None:
    reg = make_registry(jobs={"j": (anything, {"timeout": job_opt})},
                        queues={QUEUE: {"timeout": queue_opt}})
    await reg.push("j", {}, timeout=push_opt)
    assert (await reserve(reg)).envelope.timeout == expected


@pytest.mark.parametrize(
    ("queue_opt", "job_opt", "push_opt", "expected"),
    [
        (3, None, None, 3),
        (3, 5, None, 5),
        (3, 5, 1, 1),
        (3, 5, 0, 0),  # retry=0 at push really disables retries
        (3, 0, None, 0),
    ],
)
async def test_retry_resolution_push_then_job_then_queue(
    make_registry: Callable[..., rr.Registry],
    queue_opt: int, job_opt: int | None, push_opt: int | None, expected: int,
) -> None:
    reg = make_registry(jobs={"j": (anything, {"retry": job_opt})},
                        queues={QUEUE: {"retry": queue_opt}})
    await reg.push("j", {}, retry=push_opt)
    env = (await reserve(reg)).envelope
    assert env.max_retries == expected
    assert env.max_attempts == expected + 1


@pytest.mark.parametrize(
    ("queue_opt", "job_opt", "push_opt", "expected"),
    [(4.0, None, None, 4.0), (4.0, 2.0, None, 2.0), (4.0, 2.0, 0.5, 0.5)],
)
async def test_retry_delay_resolution_push_then_job_then_queue(
    make_registry: Callable[..., rr.Registry],
    queue_opt: float, job_opt: float | None, push_opt: float | None, expected: float,
) -> None:
    reg = make_registry(jobs={"j": (anything, {"retry_delay": job_opt})},
                        queues={QUEUE: {"retry_delay": queue_opt}})
    await reg.push("j", {}, retry_delay=push_opt)
    assert (await reserve(reg)).envelope.retry_delay == expected


async def test_seed_defaults_apply(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    await reg.push("j", {})
    env = (await reserve(reg)).envelope
    assert env.max_retries == 0  # retry 0
    assert env.retry_delay == 1.0  # retry_delay 1s
    assert env.timeout is None
    assert env.meta == {}


async def test_push_to_another_queue_than_the_jobs_default(
    make_registry: Callable[..., rr.Registry],
) -> None:
    TOUCHED.add("other")
    reg = make_registry(jobs={"j": anything}, queues={QUEUE: {}, "other": {"retry": 4}})
    await reg.push("j", {"n": 1}, queue="other")
    env = (await reserve(reg, "other")).envelope
    assert (env.queue, env.max_retries) == ("other", 4)
    assert await (await reg.queue_driver(QUEUE)).reserve(QUEUE, 1, 30.0) == []


# ---- payload validation -----------------------------------------------------------------


async def nothing_reservable(reg: rr.Registry, queue: str = QUEUE) -> bool:
    driver = await reg.queue_driver(queue)
    return await driver.reserve(queue, 100, 30.0) == []


async def test_bad_payload_is_refused_with_field_errors(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"mail.send": send})
    with pytest.raises(rr.PayloadInvalid) as info:
        await reg.push("mail.send", {"retries": "many"})
    message = str(info.value)
    assert "mail.send: to: " in message
    assert "mail.send: retries: " in message
    assert {f for f, _ in info.value.errors} == {"to", "retries"}
    assert await nothing_reservable(reg)


@needs(Capability.COUNT)
async def test_bad_payload_leaves_counts_unchanged(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"mail.send": send})
    await reg.push("mail.send", {"to": "x@y.z"})
    before = await reg.queue_info()
    with pytest.raises(rr.PayloadInvalid):
        await reg.push("mail.send", {"to": 5})
    assert await reg.queue_info() == before
    assert before[0].pending == 1


async def test_push_many_validates_everything_before_enqueueing(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"mail.send": send})
    payloads: list[dict[str, Any]] = [{"to": f"u{i}@x.y"} for i in range(5)]
    payloads.insert(3, {"to": None})
    with pytest.raises(rr.PayloadInvalid) as info:
        await reg.push_many("mail.send", payloads)
    assert "to" in str(info.value)
    assert await nothing_reservable(reg)


async def test_push_many_enqueues_all_in_order(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"mail.send": send})
    ids = await reg.push_many("mail.send", [{"to": f"u{i}@x.y"} for i in range(7)])
    assert len(ids) == 7 and ids == sorted(ids)
    driver = await reg.queue_driver(QUEUE)
    got = [(await reserve_one(driver)).envelope.payload["to"] for _ in range(7)]
    assert got == [f"u{i}@x.y" for i in range(7)]


# ---- push_sync ----------------------------------------------------------------------------


async def test_push_sync_from_a_plain_thread(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"mail.send": send})

    def producer() -> tuple[str, Reserved]:
        # No event loop in this thread, and the registry was never opened by one.
        assert threading.current_thread() is not threading.main_thread()
        job_id = reg.push_sync("mail.send", {"to": "t@x.y"}, meta={"via": "thread"})
        reserved: Reserved = reg.run_sync(reserve(reg))
        reg.run_sync(reg.close())  # its connections belong to the loop push_sync made
        return job_id, reserved

    job_id, r = await asyncio.to_thread(producer)
    assert r.envelope.id == job_id
    assert r.envelope.meta == {"via": "thread"}


async def test_push_sync_from_a_thread_while_the_loop_runs(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"mail.send": send})
    await reg.queue_driver(QUEUE)  # the registry now lives on this loop
    job_id = await asyncio.to_thread(reg.push_sync, "mail.send", {"to": "t@x.y"})
    assert (await reserve(reg)).envelope.id == job_id
    with pytest.raises(rr.PayloadInvalid):
        await asyncio.to_thread(reg.push_sync, "mail.send", {"to": []})


async def test_push_sync_runs_push_middleware_too(
    make_registry: Callable[..., rr.Registry],
) -> None:
    # A driver may push_sync in the caller's thread; middleware (coroutines) still run.
    seen: list[str] = []

    async def tag(envelope: rr.Envelope, call_next: Any) -> str:
        seen.append(envelope.job)
        job_id: str = await call_next(envelope.evolve(meta={"tagged": "yes"}))
        return job_id

    reg = make_registry(jobs={"mail.send": send}, push_middleware=[tag])
    await reg.queue_driver(QUEUE)
    job_id = await asyncio.to_thread(reg.push_sync, "mail.send", {"to": "t@x.y"})
    env = (await reserve(reg)).envelope
    assert (seen, env.id, env.meta) == (["mail.send"], job_id, {"tagged": "yes"})


# ---- push middleware -------------------------------------------------------------------


async def test_push_middleware_runs_outermost_first_and_can_change_the_envelope(
    make_registry: Callable[..., rr.Registry],
) -> None:
    calls: list[str] = []

    def mw(name: str) -> Any:
        async def middleware(envelope: rr.Envelope, call_next: Any) -> str:
            calls.append(f"{name}>")
            job_id: str = await call_next(
                envelope.evolve(meta={**envelope.meta, "trail": [*envelope.meta.get("trail", []),
                                                                  name]}))
            calls.append(f"<{name}")
            return job_id

        return middleware

    reg = make_registry(
        jobs={"j": anything},
        queues={QUEUE: {"middleware": [mw("queue1"), mw("queue2")]}},
        push_middleware=[mw("global")],
    )
    job_id = await reg.push("j", {})
    assert calls == ["global>", "queue1>", "queue2>", "<queue2", "<queue1", "<global"]
    env = (await reserve(reg)).envelope
    assert env.id == job_id
    assert env.meta["trail"] == ["global", "queue1", "queue2"]
