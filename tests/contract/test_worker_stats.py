"""What users observe around runs: stats, instances, failed-job recovery, retention,
run middleware, and handlers pushing follow-up jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Capability

from .helpers import QUEUE, burst, burst_until, eventually

needs = pytest.mark.needs


async def mixed(job: rr.Job[Any]) -> None:
    kind = job.payload["kind"]
    if kind == "bad" or (kind == "flaky" and job.attempt == 1):
        raise ValueError(kind)


@needs(Capability.STATS, Capability.COUNT, Capability.DELAY)
async def test_stats_after_a_mixed_burst(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": mixed}, queues={QUEUE: {"retry": 1, "retry_delay": 0.05}})
    await reg.push("j", {"kind": "ok"})
    await reg.push("j", {"kind": "flaky"})
    await reg.push("j", {"kind": "bad"}, retry=0)
    await reg.push("j", {"kind": "ok"})

    async def settled() -> bool:
        [q] = await reg.queue_info()
        return (q.pending, q.delayed, q.reserved) == (0, 0, 0)

    counts = await burst_until_async(reg, settled)
    assert counts == (3, 1, 1)  # (succeeded, failed, retried)
    [w] = await reg.worker_info()
    assert (w.name, w.queues, w.concurrency) == ("w", [QUEUE], 1)
    assert (w.processed, w.succeeded, w.failed, w.retried) == (5, 3, 1, 1)
    assert w.processed == sum(n or 0 for n in (w.succeeded, w.failed, w.retried))
    [q] = await reg.queue_info()
    assert (q.pending, q.delayed, q.reserved) == (0, 0, 0)
    if Capability.FAILED_STORE in (await reg.queue_driver(QUEUE)).capabilities:
        assert q.failed == 1


async def burst_until_async(reg: rr.Registry, done: Callable[[], Any]) -> tuple[int, int, int]:
    total = (0, 0, 0)

    async def probe() -> bool:
        nonlocal total
        unit = await burst(reg)
        c = unit.counts
        total = (total[0] + c.succeeded, total[1] + c.failed, total[2] + c.retried)
        return bool(await done())

    await eventually(probe, what="queue settled")
    return total


@needs(Capability.STATS)
async def test_worker_info_sums_units_of_one_pool(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": mixed})
    await reg.push_many("j", [{"kind": "ok"}] * 3)
    await burst(reg)
    await reg.push_many("j", [{"kind": "ok"}, {"kind": "bad"}])
    await burst(reg)
    [w] = await reg.worker_info()
    assert (w.processed, w.succeeded, w.failed, w.retried) == (5, 4, 1, 0)


@needs(Capability.INSTANCES)
async def test_instances_while_running_and_after_a_clean_stop(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": mixed})
    units = [rr.Unit(reg, "w"), rr.Unit(reg, "w")]
    tasks = [asyncio.create_task(u.run()) for u in units]

    async def live() -> int | None:
        [w] = await reg.worker_info()
        return w.instances if w.instances == 2 else None

    assert await eventually(live, what="two live instances") == 2
    for unit in units:
        await unit.stop()
    await asyncio.gather(*tasks)
    [w] = await reg.worker_info()
    assert w.instances == 0


# ---- failed jobs: retry, delete, retention ---------------------------------------------------


@needs(Capability.FAILED_STORE)
async def test_retrying_a_failed_job_runs_it_again(
    make_registry: Callable[..., rr.Registry],
) -> None:
    attempts: list[int] = []

    async def handle(job: rr.Job[Any]) -> None:
        attempts.append(job.attempt)
        if len(attempts) == 1:
            raise RuntimeError("first time")

    reg = make_registry(jobs={"j": handle})
    job_id = await reg.push("j", {})
    await burst(reg)
    listing = Capability.LIST in (await reg.queue_driver(QUEUE)).capabilities
    if listing:
        [failed] = await reg.failed(QUEUE)
        assert (failed.id, failed.error) == (job_id, "RuntimeError: first time")
    assert await reg.retry_failed(QUEUE, [job_id]) == 1
    unit = await burst(reg)
    assert attempts == [1, 1]  # attempts reset by retry
    assert unit.counts.succeeded == 1
    assert await reg.retry_failed(QUEUE) == 0
    if listing:
        assert await reg.failed(QUEUE) == []
        assert await reg.job_info(job_id) is None


@needs(Capability.FAILED_STORE)
@pytest.mark.parametrize(("retention", "kept"), [(0.05, 0), (0, 1)])
async def test_retention_deletes_old_failed_jobs_unless_zero(
    make_registry: Callable[..., rr.Registry], retention: float, kept: int,
) -> None:
    reg = make_registry(jobs={"j": mixed}, queues={QUEUE: {"retention": retention}})
    await reg.push("j", {"kind": "bad"})
    first = await burst(reg)  # fails it (housekeeping ran before, with nothing to delete)
    assert first.counts.failed == 1
    await asyncio.sleep(0.1)  # the failed job ages past the retention
    await burst(reg)  # housekeeping of this run
    # What is left in the failed store: retry_failed moves (and counts) all of it.
    assert await reg.retry_failed(QUEUE) == kept


# ---- run middleware, default(), push from handlers -------------------------------------------


async def test_run_middleware_runs_outermost_first(
    make_registry: Callable[..., rr.Registry],
) -> None:
    calls: list[str] = []

    def mw(name: str) -> Any:
        async def middleware(job: rr.Job[Any], call_next: Any) -> None:
            calls.append(f"{name}>")
            await call_next(job)
            calls.append(f"<{name}")

        return middleware

    async def handle(job: rr.Job[Any]) -> None:
        calls.append("handler")

    reg = make_registry(jobs={"j": handle},
                        workers={"w": {"middleware": [mw("worker1"), mw("worker2")]}},
                        run_middleware=[mw("global")])
    await reg.push("j", {})
    unit = await burst(reg)
    assert calls == ["global>", "worker1>", "worker2>", "handler",
                     "<worker2", "<worker1", "<global"]
    assert unit.counts.succeeded == 1


async def test_run_middleware_sees_the_failure(make_registry: Callable[..., rr.Registry]) -> None:
    seen: list[str] = []

    async def middleware(job: rr.Job[Any], call_next: Any) -> None:
        try:
            await call_next(job)
        except ValueError as exc:
            seen.append(str(exc))
            raise

    reg = make_registry(jobs={"j": mixed}, run_middleware=[middleware])
    await reg.push("j", {"kind": "bad"})
    unit = await burst(reg)
    assert seen == ["bad"]
    assert unit.counts.failed == 1


async def test_handler_pushes_the_next_page_with_default(
    make_registry: Callable[..., rr.Registry],
) -> None:
    cursors: list[int] = []

    async def page(job: rr.Job[Any]) -> None:
        cursors.append(job.payload["cursor"])
        if job.payload["cursor"] < 3:
            await rr.default().push("page", {"cursor": job.payload["cursor"] + 1})

    reg = make_registry(jobs={"page": page})
    await reg.push("page", {"cursor": 0})
    counts = await burst_until(reg, lambda: len(cursors) >= 4, what="the cursor chain")
    assert cursors == [0, 1, 2, 3]
    assert counts == (4, 0, 0)


async def test_sync_handler_pushes_with_push_sync(
    make_registry: Callable[..., rr.Registry],
) -> None:
    followed: list[str] = []

    def first(job: rr.Job[Any]) -> None:
        rr.default().push_sync("second", {"from": job.id})

    async def second(job: rr.Job[Any]) -> None:
        followed.append(job.payload["from"])

    reg = make_registry(jobs={"first": first, "second": second})
    job_id = await reg.push("first", {})
    counts = await burst_until(reg, lambda: bool(followed), what="the follow-up job")
    assert followed == [job_id]
    assert counts == (2, 0, 0)
