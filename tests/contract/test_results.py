"""Results (issue 18 point 1): a handler's return value kept for ``result_ttl``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Capability

from .helpers import QUEUE, burst, eventually

needs = pytest.mark.needs


async def _answer(job: rr.Job[Any]) -> Any:
    return {"answer": 42, "echo": job.payload}


@needs(Capability.RESULTS, Capability.LIST)
async def test_a_kept_result_shows_as_succeeded(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": _answer})
    before = time.time()
    job_id = await reg.push("j", {"x": 1}, result_ttl=60)
    await burst(reg)
    info = await reg.job_info(job_id)
    assert info is not None
    assert info.state == "succeeded"
    assert info.result == {"answer": 42, "echo": {"x": 1}}
    assert info.finished_at is not None and before <= info.finished_at <= time.time()
    assert info.to_dict()["state"] == "succeeded"
    assert {"result", "finished_at"} <= set(info.to_dict())
    assert await reg.result(job_id, timeout=1) == {"answer": 42, "echo": {"x": 1}}
    # sync code (a thread with no event loop) waits the same way
    assert await asyncio.to_thread(reg.result_sync, job_id, 1) == {"answer": 42,
                                                                   "echo": {"x": 1}}


@needs(Capability.RESULTS, Capability.LIST)
async def test_without_result_ttl_a_succeeded_job_is_gone(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": (_answer, {"result_ttl": 60})})
    job_id = await reg.push("j", {}, result_ttl=0)  # push overrides job
    await burst(reg)
    assert await reg.job_info(job_id) is None
    with pytest.raises(rr.JobNotFound, match="no such job, or it succeeded and was not kept"):
        await reg.result(job_id, timeout=1)
    with pytest.raises(KeyError):
        await reg.result(job_id, timeout=1)


@needs(Capability.RESULTS, Capability.LIST)
async def test_queue_and_job_result_ttl_apply(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": _answer, "k": (_answer, {"result_ttl": 0})},
                        queues={QUEUE: {"result_ttl": 60}})
    kept = await reg.push("j", 1)
    dropped = await reg.push("k", 2)  # job overrides queue
    await burst(reg)
    assert (await reg.result(kept, timeout=1))["echo"] == 1
    assert await reg.job_info(dropped) is None


@needs(Capability.RESULTS, Capability.LIST)
async def test_a_result_that_is_no_json_fails_the_run(
    make_registry: Callable[..., rr.Registry],
) -> None:
    async def bad(job: rr.Job[Any]) -> Any:
        return {"when": object()}

    reg = make_registry(jobs={"j": bad})
    job_id = await reg.push("j", {}, result_ttl=60, retry=0)
    await burst(reg)
    info = await reg.job_info(job_id)
    assert info is not None and info.state == "failed"
    assert info.error is not None and info.error.startswith("result is not JSON: ")
    with pytest.raises(rr.JobFailed, match="result is not JSON") as caught:
        await reg.result(job_id, timeout=1)
    assert caught.value.error == info.error


@needs(Capability.RESULTS, Capability.LIST)
async def test_result_waits_for_the_worker(make_registry: Callable[..., rr.Registry]) -> None:
    def sync_answer(job: rr.Job[Any]) -> Any:
        return [job.payload, "done"]

    reg = make_registry(jobs={"j": sync_answer})
    job_id = await reg.push("j", 7, result_ttl=60)
    waiting = asyncio.create_task(reg.result(job_id, timeout=10))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    unit = rr.Unit(reg, "w")
    running = asyncio.create_task(unit.run())
    try:
        assert await asyncio.wait_for(waiting, 10) == [7, "done"]
    finally:
        await unit.stop()
        await running


@needs(Capability.RESULTS, Capability.LIST)
async def test_result_times_out_and_reports_failure(
    make_registry: Callable[..., rr.Registry],
) -> None:
    async def boom(job: rr.Job[Any]) -> None:
        raise rr.Abort("no way")

    reg = make_registry(jobs={"j": _answer, "boom": boom})
    pending = await reg.push("j", 1, result_ttl=60)
    with pytest.raises(TimeoutError):
        await reg.result(pending, timeout=0.2)
    failing = await reg.push("boom", 1, result_ttl=60)
    await burst(reg)
    with pytest.raises(rr.JobFailed, match="no way"):
        await reg.result(failing, timeout=1)


@needs(Capability.RESULTS, Capability.LIST)
async def test_a_kept_result_expires(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": _answer})
    job_id = await reg.push("j", 1, result_ttl=0.3)
    await burst(reg)

    async def gone() -> bool:
        return await reg.job_info(job_id) is None

    await eventually(gone, timeout=5, what="the kept result to expire")


@needs(Capability.RESULTS)
async def test_result_ttl_is_checked(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": _answer})
    with pytest.raises(rr.ConfigError, match="result_ttl"):
        await reg.push("j", 1, result_ttl=-1)
