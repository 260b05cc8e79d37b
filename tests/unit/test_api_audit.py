"""The Python API as DESIGN.md section 7 shows it, run as a user would write it."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

import runa_runner as rr


async def test_push_without_a_queue_and_no_default_queue_says_so() -> None:
    r = rr.Registry()
    r.queue("mail")
    r.job("mail.send", lambda job: None)
    r.freeze()
    with pytest.raises(rr.UnknownName, match=r"job 'mail\.send' has no queue.*queue="):
        await r.push("mail.send", {})
    assert await r.queue_info() == [rr.QueueInfo("mail", "memory", ["default"], 0, 0, 0, 0,
                                                     paused=False)]


def test_an_explicit_unknown_queue_still_fails_freeze() -> None:
    r = rr.Registry()
    r.queue("mail")
    r.job("mail.send", lambda job: None, queue="mial")
    with pytest.raises(rr.ConfigError, match=r"unknown queue 'mial' \(did you mean 'mail'\?\)"):
        r.freeze()


def test_job_without_queue_binds_default_when_it_exists() -> None:
    r = rr.Registry()
    r.job("a", lambda job: None)
    r.freeze()
    assert r.jobs["a"].queue == "default"
    assert list(r.queues) == ["default"] and r.queues["default"].workers == ("default",)
    assert list(r.workers) == ["default"] and "memory" in r.drivers


async def test_cancelling_unit_run_releases_the_running_job_at_once() -> None:
    # "Unit.run() runs until cancelled": a cancel is a stop at once, so the job goes back to
    # its queue with its attempt given back instead of waiting out its lease.
    started = asyncio.Event()

    async def slow(job: rr.Job[dict[str, int]]) -> None:
        started.set()
        await asyncio.sleep(60)

    r = rr.Registry()
    r.worker("default", poll_interval=0.01)
    r.job("slow", slow)
    r.freeze()
    job_id = await r.push("slow", {})
    run = asyncio.create_task(rr.Unit(r, "default").run())
    await asyncio.wait_for(started.wait(), 10)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    info = await r.job_info(job_id)
    assert info is not None and (info.state, info.attempts) == ("pending", 0)
    [worker] = await r.worker_info()
    assert (worker.instances, worker.processed) == (0, 0)


async def test_a_registry_in_use_is_frozen_with_the_seed_defaults() -> None:
    # Like queue.New() in the seed: nothing declared gives the default queue and worker on
    # the memory driver; the first push or look freezes the registry, as Unit(...) does.
    seen: list[object] = []
    r = rr.Registry()
    r.job("ping", lambda job: seen.append(job.payload))
    assert [q.name for q in await r.queue_info()] == ["default"]
    assert [w.name for w in await r.worker_info()] == ["default"]
    assert r.frozen
    with pytest.raises(rr.RegistryFrozen):
        r.queue("late")
    job_id = await r.push("ping", {"n": 1})
    info = await r.job_info(job_id)
    assert info is not None and (info.queue, info.state) == ("default", "pending")
    await rr.Unit(r, "default").run(burst=True)
    assert seen == [{"n": 1}]


async def test_push_on_an_unfrozen_registry_freezes_it() -> None:
    r = rr.Registry()
    r.job("ping", lambda job: None)
    await r.push("ping", None)
    with pytest.raises(rr.RegistryFrozen):
        r.job("late", lambda job: None)


async def test_job_info_fields_are_those_of_job_json_and_the_traceback_is_a_property() -> None:
    import dataclasses

    async def boom(job: rr.Job[dict[str, int]]) -> None:
        raise RuntimeError("boom")

    r = rr.Registry()
    r.job("boom", boom)
    job_id = await r.push("boom", {"n": 1}, retry=0)
    await rr.Unit(r, "default").run(burst=True)
    info = await r.job_info(job_id)
    assert info is not None and info.state == "failed"
    # "held" is printed only while a pause or a limit holds a pending job back.
    assert [f.name for f in dataclasses.fields(info) if f.name != "held"] == list(info.to_dict())
    assert list(info.to_dict()) == ["id", "queue", "job", "state", "attempts", "max_attempts",
                                    "payload", "meta", "error", "enqueued_at", "available_at"]
    assert info.traceback is not None and "RuntimeError: boom" in info.traceback


class CallMail(BaseModel):
    to: str


class Sender:
    """A callable-object handler: its payload type is on ``__call__``."""

    def __init__(self) -> None:
        self.seen: list[CallMail] = []

    async def __call__(self, job: rr.Job[CallMail]) -> None:
        self.seen.append(job.payload)


async def test_a_callable_object_handler_gets_its_payload_type_from_call() -> None:
    sender = Sender()
    r = rr.Registry()
    r.job("mail.send", sender)
    with pytest.raises(rr.PayloadInvalid):
        await r.push("mail.send", {"to": 1})
    await r.push("mail.send", {"to": "a@b.c"})
    await rr.Unit(r, "default").run(burst=True)
    assert sender.seen == [CallMail(to="a@b.c")]
