"""A push whose unique key is held returns the holder's id and says so (``Pusher.push_one``:
what ``runa-runner push --unique`` prints its "already queued" note from), on every driver
that keeps unique locks; no driver needs to report it: the id it returns tells."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Capability, Outcome
from runa_runner.pushing import PushOptions

from .helpers import QUEUE, reserve_one

needs = pytest.mark.needs


async def anything(job: rr.Job[Any]) -> None:
    return None


@needs(Capability.UNIQUE)
async def test_push_one_tells_a_held_key_from_a_fresh_push(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    held = PushOptions(unique="u1")

    first = await reg.pusher.push_one("j", {"n": 1}, held)
    again = await reg.pusher.push_one("j", {"n": 2}, held)
    other = await reg.pusher.push_one("j", {"n": 3}, PushOptions(unique="u2"))
    plain = await reg.pusher.push_one("j", {"n": 4}, PushOptions())

    assert not first.already_queued and not other.already_queued and not plain.already_queued
    assert again.already_queued and again.id == first.id
    assert len({first.id, other.id, plain.id}) == 3
    # registry.push answers the same id on a hit (documented), without the flag
    assert await reg.push("j", {"n": 5}, unique="u1") == first.id


@needs(Capability.UNIQUE)
async def test_push_one_through_push_middleware(
    make_registry: Callable[..., rr.Registry],
) -> None:
    seen: list[str] = []

    async def tag(envelope: rr.Envelope, call_next: Callable[[Any], Awaitable[str]]) -> str:
        job_id = await call_next(envelope)
        seen.append(job_id)
        return job_id

    reg = make_registry(jobs={"j": anything}, push_middleware=[tag])
    first = await reg.pusher.push_one("j", {}, PushOptions(unique="m"))
    again = await reg.pusher.push_one("j", {}, PushOptions(unique="m"))

    assert (first.already_queued, again.already_queued) == (False, True)
    assert seen == [first.id, first.id]


@needs(Capability.UNIQUE)
async def test_a_released_key_pushes_fresh_again(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    first = await reg.pusher.push_one("j", {}, PushOptions(unique="r"))
    driver = await reg.queue_driver(QUEUE)
    reserved = await reserve_one(driver)
    ack = Outcome(QUEUE, reserved.envelope.id, reserved.token, "ack")
    assert await driver.settle([ack]) == [True]

    again = await reg.pusher.push_one("j", {}, PushOptions(unique="r"))

    assert not again.already_queued and again.id != first.id
