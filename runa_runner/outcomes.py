"""``registry.result`` and ``registry.cancel``: waiting for a job's outcome, stopping a job.

Both find the job first (ids are unique across queues), then ask its queue's driver.
Waiting wakes on the driver's signal where it has one (:class:`ResultStore.wait_result`)
and looks again at least every :data:`RECHECK` seconds: a job that settled between the
look and the wait, or ended without a signal (a lapsed lease), is seen that late at most.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .drivers.base import Capability, ResultStore
from .errors import DriverUnavailable, JobFailed, JobNotFound, NotCancellable, Unsupported
from .inspection import Inspector
from .results import NOT_KEPT
from .specs import JobInfo

#: Longest wait between two looks at a job whose result is awaited (seconds).
RECHECK = 1.0


async def find(inspector: Inspector, job_id: str, queue: str | None = None) -> JobInfo:
    """The stored job; JobNotFound (or DriverUnavailable when a driver did not answer)."""
    info = await inspector.job(job_id, queue)
    if info is not None:
        return info
    if inspector.down:
        dead = "; ".join(f"driver '{n}' unreachable: {why}" for n, why in inspector.down.items())
        raise DriverUnavailable(f"job '{job_id}' not found on the reachable drivers; {dead}")
    raise JobNotFound(f"job '{job_id}': {NOT_KEPT}")


async def wait_result(inspector: Inspector, job_id: str, timeout: float | None) -> Any:
    """The job's kept result once it succeeded (see ``Registry.result``)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    queue: str | None = None
    while True:
        info = await find(inspector, job_id, queue)
        queue = info.queue
        if info.state == "succeeded":
            return info.result
        if info.state == "failed":
            raise JobFailed(job_id, info.error)
        left = RECHECK if deadline is None else min(RECHECK, deadline - time.monotonic())
        if left <= 0:
            raise TimeoutError(f"job '{job_id}' did not finish within {timeout:g}s "
                               f"(it is {info.state})")
        driver = await inspector.registry.open_driver(inspector.registry.queue_spec(queue).driver)
        if isinstance(driver, ResultStore):
            await driver.wait_result(queue, job_id, left)
        else:
            await asyncio.sleep(left)


async def cancel(inspector: Inspector, job_id: str) -> str:
    """Delete a pending job or ask a reserved one's run to stop (see ``Registry.cancel``)."""
    registry = inspector.registry
    unable = sorted({q.driver for q in registry.queues.values()
                     if Capability.CANCEL not in registry.drivers[q.driver].capabilities})
    try:
        info = await find(inspector, job_id)
    except JobNotFound:
        if unable:  # it may be there, out of reach of a cancel
            kinds = ", ".join(f"'{n}' (type {registry.drivers[n].type_name})" for n in unable)
            raise JobNotFound(f"job '{job_id}': {NOT_KEPT} (on the drivers that can cancel; "
                              f"cancel is not supported by driver {kinds})") from None
        raise
    name = registry.queue_spec(info.queue).driver
    driver = await registry.open_driver(name)
    if Capability.CANCEL not in driver.capabilities or not isinstance(driver, ResultStore):
        raise Unsupported(driver.type_name, "cancel")
    done = await driver.cancel(info.queue, job_id)
    if done is None:
        raise JobNotFound(f"job '{job_id}': {NOT_KEPT}")
    if done in ("failed", "succeeded"):
        raise NotCancellable(f"job '{job_id}' already {done}: there is nothing to cancel")
    return done
