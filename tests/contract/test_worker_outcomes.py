"""How a run ends decides what happens to the job: retries, RetryIn, Abort, backoff (§4, §7b)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

import runa_runner as rr
from runa_runner.drivers.base import Capability, Outcome

from .helpers import QUEUE, burst, burst_until, item, reserve_one

needs = pytest.mark.needs


class Page(BaseModel):
    cursor: int
    size: int = 10


async def test_handler_gets_a_typed_job(make_registry: Callable[..., rr.Registry]) -> None:
    seen: list[rr.Job[Page]] = []
    registries: list[rr.Registry] = []

    async def handle(job: rr.Job[Page]) -> None:
        seen.append(job)
        registries.append(rr.default())

    reg = make_registry(
        jobs={"page": (handle, {"meta": {"kind": "page"}})},
        queues={QUEUE: {"retry": 2, "timeout": 9.0}},
    )
    job_id = await reg.push("page", {"cursor": 3}, meta={"source": "test"})
    unit = await burst(reg)
    [job] = seen
    assert isinstance(job.payload, Page)
    assert job.payload == Page(cursor=3, size=10)
    assert (job.id, job.name, job.queue) == (job_id, "page", QUEUE)
    assert (job.attempt, job.max_attempts, job.timeout) == (1, 3, 9.0)
    assert job.meta == {"kind": "page", "source": "test"}
    assert job.enqueued_at > 0
    assert not job.cancelled.is_set()
    assert registries == [reg]
    assert (unit.counts.succeeded, unit.counts.processed) == (1, 1)


async def test_sync_handler_runs_in_a_thread(make_registry: Callable[..., rr.Registry]) -> None:
    import threading

    threads: list[str] = []

    def handle(job: rr.Job[Page]) -> None:
        assert isinstance(job.payload, Page)
        threads.append(threading.current_thread().name)

    reg = make_registry(jobs={"page": handle})
    await reg.push("page", {"cursor": 1})
    unit = await burst(reg)
    assert len(threads) == 1 and threads[0] != threading.main_thread().name
    assert unit.counts.succeeded == 1


def failing(runs: list[int], exc: Callable[[rr.Job[Any]], BaseException | None]) -> Any:
    """A handler that records each attempt and raises what ``exc`` says (None: succeed)."""

    async def handle(job: rr.Job[Any]) -> None:
        runs.append(job.attempt)
        error = exc(job)
        if error is not None:
            raise error

    return handle


@needs(Capability.DELAY)
async def test_retry_one_gives_exactly_two_runs_then_failed(
    make_registry: Callable[..., rr.Registry],
) -> None:
    runs: list[int] = []
    reg = make_registry(jobs={"j": failing(runs, lambda j: ValueError("nope"))},
                        queues={QUEUE: {"retry": 1, "retry_delay": 0.05}})
    job_id = await reg.push("j", {})
    counts = await burst_until(reg, lambda: len(runs) >= 2, what="two runs")
    assert runs == [1, 2]
    assert counts == (0, 1, 1)  # (succeeded, failed, retried)
    assert await (await reg.queue_driver(QUEUE)).reserve(QUEUE, 1, 30.0) == []
    driver = await reg.queue_driver(QUEUE)
    if {Capability.LIST, Capability.FAILED_STORE} <= driver.capabilities:
        info = await reg.job_info(job_id)
        assert info is not None
        assert (info.state, info.attempts, info.max_attempts) == ("failed", 2, 2)
        assert info.error == "ValueError: nope"
        assert info.traceback is not None and "ValueError: nope" in info.traceback
        assert [f.id for f in await reg.failed(QUEUE)] == [job_id]


async def test_retry_zero_gives_one_run(make_registry: Callable[..., rr.Registry]) -> None:
    runs: list[int] = []
    reg = make_registry(jobs={"j": failing(runs, lambda j: ValueError("nope"))})
    await reg.push("j", {})
    unit = await burst(reg)
    assert runs == [1]
    assert (unit.counts.failed, unit.counts.retried) == (1, 0)


async def test_push_retry_zero_disables_the_queue_retries(
    make_registry: Callable[..., rr.Registry],
) -> None:
    runs: list[int] = []
    reg = make_registry(jobs={"j": failing(runs, lambda j: ValueError("nope"))},
                        queues={QUEUE: {"retry": 3, "retry_delay": 0.01}})
    await reg.push("j", {}, retry=0)
    unit = await burst(reg)
    assert runs == [1]
    assert unit.counts.failed == 1


@needs(Capability.DELAY)
async def test_retry_then_success(make_registry: Callable[..., rr.Registry]) -> None:
    runs: list[int] = []
    reg = make_registry(
        jobs={"j": failing(runs, lambda j: RuntimeError("flaky") if j.attempt < 3 else None)},
        queues={QUEUE: {"retry": 5, "retry_delay": 0.05}},
    )
    job_id = await reg.push("j", {})
    counts = await burst_until(reg, lambda: len(runs) >= 3, what="third run")
    assert runs == [1, 2, 3]
    assert counts == (1, 0, 2)
    if Capability.LIST in (await reg.queue_driver(QUEUE)).capabilities:
        assert await reg.job_info(job_id) is None  # a succeeded job is deleted


@needs(Capability.DELAY)
async def test_retry_in_chooses_the_delay_and_counts_retried(
    make_registry: Callable[..., rr.Registry],
) -> None:
    runs: list[int] = []
    reg = make_registry(
        jobs={"j": failing(runs, lambda j: rr.RetryIn(0.3) if j.attempt == 1 else None)},
        queues={QUEUE: {"retry": 1, "retry_delay": 3600}},  # RetryIn, not this, applies
    )
    job_id = await reg.push("j", {})
    failed_at = time.time()
    unit = await burst(reg)
    assert runs == [1]
    assert (unit.counts.retried, unit.counts.processed) == (1, 1)
    driver = await reg.queue_driver(QUEUE)
    if Capability.LIST in driver.capabilities:
        info = await reg.job_info(job_id)
        assert info is not None and info.state == "delayed"
        assert info.available_at == pytest.approx(failed_at + 0.3, abs=0.25)
    counts = await burst_until(reg, lambda: len(runs) >= 2, what="the chosen retry")
    assert time.time() - failed_at >= 0.25
    assert runs == [1, 2]
    assert counts[0] == 1


async def test_retry_in_spends_a_retry(make_registry: Callable[..., rr.Registry]) -> None:
    runs: list[int] = []
    reg = make_registry(jobs={"j": failing(runs, lambda j: rr.RetryIn(0.01))})  # retry 0
    job_id = await reg.push("j", {})
    unit = await burst(reg)
    assert runs == [1]
    assert (unit.counts.failed, unit.counts.retried) == (1, 0)
    driver = await reg.queue_driver(QUEUE)
    if {Capability.LIST, Capability.FAILED_STORE} <= driver.capabilities:
        info = await reg.job_info(job_id)
        assert info is not None and info.state == "failed"


async def test_abort_fails_at_once_with_its_reason(
    make_registry: Callable[..., rr.Registry],
) -> None:
    runs: list[int] = []
    reg = make_registry(jobs={"j": failing(runs, lambda j: rr.Abort("card declined"))},
                        queues={QUEUE: {"retry": 5, "retry_delay": 0.01}})
    job_id = await reg.push("j", {})
    unit = await burst(reg)
    assert runs == [1]
    assert (unit.counts.failed, unit.counts.retried) == (1, 0)
    driver = await reg.queue_driver(QUEUE)
    if {Capability.LIST, Capability.FAILED_STORE} <= driver.capabilities:
        info = await reg.job_info(job_id)
        assert info is not None
        assert (info.state, info.error) == ("failed", "card declined")


async def test_invalid_payload_on_the_wire_fails_without_running(
    make_registry: Callable[..., rr.Registry],
) -> None:
    runs: list[int] = []

    async def typed(job: rr.Job[Page]) -> None:
        runs.append(job.attempt)

    reg = make_registry(jobs={"page": typed}, queues={QUEUE: {"retry": 3}})
    # Another producer (another language, straight onto the wire) skips validation.
    driver = await reg.queue_driver(QUEUE)
    await driver.push([item(job="page", payload={"cursor": "not a number"}, max_retries=3)])
    unit = await burst(reg)
    assert runs == []
    assert (unit.counts.failed, unit.counts.retried) == (1, 0)


# ---- backoff --------------------------------------------------------------------------------


async def delays_after_failed_run(reg: rr.Registry, ids: list[str]) -> list[tuple[float, float]]:
    """Run once; per job, the bounds (low, high) of the retry delay it was given."""
    before = time.time()
    await burst(reg)
    after = time.time()
    out = []
    for job_id in ids:
        info = await reg.job_info(job_id)
        # "pending" once a (fully jittered, near-zero) delay has already run out.
        assert info is not None and info.state in ("delayed", "pending"), info
        out.append((info.available_at - after, info.available_at - before))
    return out


@needs(Capability.DELAY, Capability.LIST)
async def test_fixed_retry_delay(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": failing([], lambda j: ValueError("x"))},
                        queues={QUEUE: {"retry": 3, "retry_delay": 20}},
                        workers={"w": {"concurrency": 4}})
    ids = [await reg.push("j", {}) for _ in range(3)]
    for low, high in await delays_after_failed_run(reg, ids):
        assert low - 0.5 <= 20 <= high + 0.5


@needs(Capability.DELAY, Capability.LIST)
async def test_exponential_backoff_stays_within_its_bounds(
    make_registry: Callable[..., rr.Registry],
) -> None:
    # delay = min(retry_delay * 2**(attempt-1), retry_max_delay), jittered within [0, that].
    queue = {"retry": 9, "retry_delay": 4, "retry_backoff": "exponential",
             "retry_max_delay": 20}
    first = make_registry(jobs={"j": failing([], lambda j: ValueError("x"))},
                          queues={QUEUE: queue}, workers={"w": {"concurrency": 16}})
    ids = [await first.push("j", {}) for _ in range(16)]
    # Each delay lies in [low, high]; a delay outside [0, cap] shows as low > cap or high < 0.
    bounds1 = await delays_after_failed_run(first, ids)  # attempt 1: cap 4
    for low, high in bounds1:
        assert low <= 4.1 and high >= -0.1, bounds1

    fourth = make_registry(jobs={"j": failing([], lambda j: ValueError("x"))},
                           queues={"q4": queue}, workers={"w": {"concurrency": 16}})
    ids4 = [await fourth.push("j", {}) for _ in range(16)]
    await burn_attempts_on(fourth, "q4", 3, 16)
    bounds = await delays_after_failed_run(fourth, ids4)  # attempt 4: min(32, 20) = 20
    for low, high in bounds:
        assert low <= 20.1 and high >= -0.1, bounds
    # The delay grew past the base: 16 jittered draws in [0, 20] all <= 4 + the run's own
    # duration is vanishingly unlikely unless the delay did not grow.
    assert max(low for low, _ in bounds) > 4, bounds


async def burn_attempts_on(reg: rr.Registry, queue: str, n: int, count: int) -> None:
    driver = await reg.queue_driver(queue)
    for _ in range(n * count):
        r = await reserve_one(driver, queue)
        out = Outcome(queue, r.envelope.id, r.token, "release")
        assert await driver.settle([out]) == [True]
