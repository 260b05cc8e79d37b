"""Removing a namespace's queues: for benchmarks and tests, never called by the runtime."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from . import names
from .driver import AMQPDriver
from .link import CLIENT_ERRORS


async def delete_queues(
    driver: AMQPDriver, queues: Sequence[str], workers: Sequence[str] = ()
) -> None:
    """Delete the work, failed and (known) holding queues of ``queues``, and the
    stats and instance queues of ``workers``. The exchange is left alone (shared)."""
    prefix = driver.prefix
    doomed = [n for q in queues for n in (
        names.work_queue(prefix, q), names.failed_queue(prefix, q),
        *driver._topology.holding_queues(q),
    )]
    doomed += [n for w in workers for n in (names.stats_queue(prefix, w),
                                           names.workers_queue(prefix, w))]
    link = driver._link
    with link.guard("delete queues"):
        channel = await link.raw("publisher")
        for name in doomed:
            with contextlib.suppress(*CLIENT_ERRORS):
                await channel.queue_delete(name)
